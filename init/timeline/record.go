package timeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// Where init keeps the timelines of the last boots, and how many.
const (
	DefaultPath = "/var/lib/edgegate/boot-timeline.json"
	DefaultKeep = 10
)

// History is the file at DefaultPath: the last boots, oldest first.
type History struct {
	Boots []Boot `json:"boots"`
}

// Boot is one boot's timeline as kept on /var.
type Boot struct {
	// BootID is the kernel's ID of the boot
	// (/proc/sys/kernel/random/boot_id), as the node status reports it.
	BootID string `json:"bootId"`
	// At is the wall-clock time the timeline was written, as the gateway
	// knew it then.
	At time.Time `json:"at"`
	// Complete is false when the timeline was written at its deadline
	// with steps still running or never begun (Missing).
	Complete bool         `json:"complete"`
	Steps    []StepRecord `json:"steps"`
	Missing  []string     `json:"missing,omitempty"`
}

// StepRecord is a step in milliseconds since the kernel started. EndMs is
// absent for a step still running when the timeline was written.
type StepRecord struct {
	Name    string `json:"name"`
	StartMs int64  `json:"startMs"`
	EndMs   *int64 `json:"endMs,omitempty"`
}

// NewBoot makes the record of one boot's steps.
func NewBoot(bootID string, at time.Time, steps []Step, missing []string) Boot {
	b := Boot{BootID: bootID, At: at, Complete: len(missing) == 0, Missing: missing}
	for _, s := range steps {
		r := StepRecord{Name: s.Name, StartMs: s.Start.Milliseconds()}
		if s.Done {
			end := s.End.Milliseconds()
			r.EndMs = &end
		} else {
			b.Complete = false
		}
		b.Steps = append(b.Steps, r)
	}
	return b
}

// Append adds b to the history at path, keeping the newest keep boots,
// and replaces the file atomically. A history that is not valid JSON is
// not thrown away: it is renamed to aside (path + ".unreadable") and a new
// one begun, and aside is returned so the caller can say so. A history
// that cannot be read at all (an I/O error) is left alone and the error
// returned: nothing stored is lost.
func Append(path string, b Boot, keep int) (aside string, err error) {
	h, err := ReadHistory(path)
	var bad *unreadableError
	switch {
	case errors.As(err, &bad):
		aside = path + ".unreadable"
		if err := atomicfile.Rename(path, aside); err != nil {
			return "", fmt.Errorf("boot timeline: keeping the unreadable %s: %w", path, err)
		}
		h = History{}
	case err != nil:
		return "", err
	}
	h.Boots = append(h.Boots, b)
	if keep > 0 && len(h.Boots) > keep {
		h.Boots = h.Boots[len(h.Boots)-keep:]
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return aside, fmt.Errorf("boot timeline: %w", err)
	}
	if err := atomicfile.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return aside, fmt.Errorf("boot timeline: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return aside, fmt.Errorf("boot timeline: %w", err)
	}
	return aside, nil
}

type unreadableError struct {
	path string
	err  error
}

func (e *unreadableError) Error() string {
	return fmt.Sprintf("boot timeline %s is not a timeline history: %v", e.path, e.err)
}

func (e *unreadableError) Unwrap() error { return e.err }

// ReadHistory reads the history at path; a missing file is an empty one.
func ReadHistory(path string) (History, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return History{}, nil
	}
	if err != nil {
		return History{}, fmt.Errorf("boot timeline: %w", err)
	}
	var h History
	if err := json.Unmarshal(data, &h); err != nil {
		return History{}, &unreadableError{path: path, err: err}
	}
	return h, nil
}
