package supervise

import (
	"fmt"
	"os"
	"sync"
)

// RotatingFile is a log file capped at MaxBytes: when a write would pass
// the cap, path becomes path.1, path.1 becomes path.2 and so on up to Keep
// files, the oldest dropped. The disk taken is at most (Keep+1)*MaxBytes.
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (appending to) the log at path.
func OpenRotating(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if maxBytes <= 0 || keep < 0 {
		return nil, fmt.Errorf("log %s: bad limits max %d keep %d", path, maxBytes, keep)
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would pass the cap; a p larger
// than the cap is split across files.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if r.f == nil {
			if err := r.open(); err != nil {
				return written, err
			}
		}
		if r.size >= r.maxBytes {
			if err := r.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p[:min(int64(len(p)), r.maxBytes-r.size)]
		n, err := r.f.Write(chunk)
		written += n
		r.size += int64(n)
		if err != nil {
			return written, fmt.Errorf("log %s: %w", r.path, err)
		}
		p = p[n:]
	}
	return written, nil
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("log %s: close for rotation: %w", r.path, err)
	}
	r.f = nil
	if r.keep == 0 {
		if err := os.Remove(r.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("log %s: rotate: %w", r.path, err)
		}
		return r.open()
	}
	for i := r.keep - 1; i >= 1; i-- {
		if err := os.Rename(r.name(i), r.name(i+1)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("log %s: rotate: %w", r.path, err)
		}
	}
	if err := os.Rename(r.path, r.name(1)); err != nil {
		return fmt.Errorf("log %s: rotate: %w", r.path, err)
	}
	return r.open()
}

func (r *RotatingFile) name(i int) string { return fmt.Sprintf("%s.%d", r.path, i) }

// Close closes the current file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
