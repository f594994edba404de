package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// The files the service keeps in its state directory.
const (
	// StatusFile is the Status (without the update in progress), for
	// edgecore to report to the cloud.
	StatusFile = "status.json"
	// LastFile is the Outcome of the last update the service ran.
	LastFile = "last.json"
)

// marshalStatus is the indented JSON of a status file.
func marshalStatus(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return append(b, '\n'), nil
}

// writeRaw replaces path with b, atomically: edgecore reads status.json
// at any moment and must see a whole file.
func writeRaw(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o644)
}

// writeJSON replaces path with v as JSON, atomically.
func writeJSON(path string, v any) error {
	b, err := marshalStatus(v)
	if err != nil {
		return err
	}
	return writeRaw(path, b)
}

// readLast reads last.json; a missing file is no outcome yet.
func readLast(dir string) (*Outcome, error) {
	b, err := os.ReadFile(filepath.Join(dir, LastFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LastFile), err)
	}
	return &o, nil
}

// ReadStatusFile reads a status.json the service wrote.
func ReadStatusFile(path string) (Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return Status{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
