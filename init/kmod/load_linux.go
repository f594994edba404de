package kmod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Result is what happened to one module.
type Result struct {
	Entry
	Err error // nil when loaded or already present
}

// Name is the module's file name without directory and .ko suffix.
func (r Result) Name() string {
	return strings.TrimSuffix(filepath.Base(r.Path), ".ko")
}

// Report sums up a load run.
type Report struct {
	Results  []Result
	Duration time.Duration
}

// Failed returns the results whose load failed.
func (r Report) Failed() []Result {
	var f []Result
	for _, x := range r.Results {
		if x.Err != nil {
			f = append(f, x)
		}
	}
	return f
}

// Load loads every entry in order. It goes on past failures so one broken
// optional driver cannot keep the gateway from booting; the returned error
// names the first required module that failed.
func Load(entries []Entry) (Report, error) {
	start := time.Now()
	rep := Report{}
	var firstRequired error
	for _, e := range entries {
		err := load(e.Path)
		rep.Results = append(rep.Results, Result{Entry: e, Err: err})
		if err != nil && e.Required && firstRequired == nil {
			firstRequired = fmt.Errorf("required module %s: %w", e.Path, err)
		}
	}
	rep.Duration = time.Since(start)
	return rep, firstRequired
}

// LoadList loads the modules of the load list at path (ListPath in an
// image) and reports, line by line through say, how many loaded and
// which failed.
func LoadList(path string, say func(format string, args ...any)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("module list: %w", err)
	}
	entries, err := Parse(data)
	if err != nil {
		return err
	}
	rep, err := Load(entries)
	failed := rep.Failed()
	say("modules: %d loaded, %d failed in %v", len(rep.Results)-len(failed), len(failed), rep.Duration.Round(time.Millisecond))
	for _, f := range failed {
		say("module %s failed: %v", f.Name(), f.Err)
	}
	return err
}

func load(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	flags := 0
	if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") || strings.HasSuffix(path, ".gz") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	err = unix.FinitModule(fd, "", flags)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}
