package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// Source says which config Choose picked.
type Source string

const (
	SourceNew      Source = "new"       // the image's file
	SourceLastGood Source = "last-good" // the saved copy on /var
	SourceDefault  Source = "default"   // built-in Default()
)

// Decision is what Choose picked and why.
type Decision struct {
	Config *Config // always non-nil and valid
	Source Source
	// Raw is the chosen file's bytes (nil for SourceDefault).
	Raw []byte
	// Reason is one console line: what was used and, if the new file was
	// refused, which field is wrong.
	Reason string
	// NewErr is why the image's file was refused (nil when it was used).
	NewErr error
	// SaveNeeded is true when Raw should be written to the last-good path
	// (the new file is good and differs from the saved copy).
	SaveNeeded bool
}

// Choose decides between the image's config at newPath and the saved copy
// at lastGoodPath: the new file when it is valid; otherwise the last good
// copy when that is valid; otherwise the built-in default. It never fails:
// a device with a broken config must still boot and say why.
func Choose(newPath, lastGoodPath string) Decision {
	newRaw, newCfg, newErr := loadRaw(newPath)
	lastRaw, lastCfg, lastErr := loadRaw(lastGoodPath)
	if newErr == nil {
		return Decision{
			Config:     newCfg,
			Source:     SourceNew,
			Raw:        newRaw,
			Reason:     fmt.Sprintf("config: using %s", newPath),
			SaveNeeded: lastErr != nil || !bytes.Equal(newRaw, lastRaw),
		}
	}
	if lastErr == nil {
		return Decision{
			Config: lastCfg,
			Source: SourceLastGood,
			Raw:    lastRaw,
			Reason: fmt.Sprintf("config: %s refused (%s); keeping last good %s", newPath, oneLine(newErr), lastGoodPath),
			NewErr: newErr,
		}
	}
	last := "none saved"
	if !errors.Is(lastErr, fs.ErrNotExist) {
		last = oneLine(lastErr)
	}
	return Decision{
		Config: Default(),
		Source: SourceDefault,
		Reason: fmt.Sprintf("config: %s refused (%s); last good %s unusable (%s); using built-in defaults", newPath, oneLine(newErr), lastGoodPath, last),
		NewErr: newErr,
	}
}

// SaveLastGood stores raw as the last good config, atomically, creating
// the directory when needed.
func SaveLastGood(path string, raw []byte) error {
	if _, err := Parse(raw); err != nil {
		return fmt.Errorf("config: refusing to save an invalid last good copy: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("config: save last good: %w", err)
	}
	if err := atomicfile.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("config: save last good: %w", err)
	}
	return nil
}

func loadRaw(path string) ([]byte, *Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	return raw, c, nil
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
