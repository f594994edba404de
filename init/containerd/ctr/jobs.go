package ctr

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// JobList is the name of the command list inside a jobs tar.
const JobList = "jobs"

// jobs reads a tar stream from device (a raw disk holding a tar file; the
// zero blocks after it end the stream), unpacks its files into a fresh
// directory and runs each line of its "jobs" file as an edgegate-ctr
// command from there. Each line's outcome is one console line:
//
//	job <n> ok: <command>
//	job <n> failed: <command>: <error>
//
// A line prefixed with "!" must fail (bad-input tests). Every line runs
// whatever happened before, so one failure does not hide the next.
func (t Tool) jobs(ctx context.Context, device string) error {
	dir, err := os.MkdirTemp("", "edgegate-jobs-")
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := untar(device, dir); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	list, err := os.ReadFile(filepath.Join(dir, JobList))
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	failed := 0
	sc := bufio.NewScanner(bytes.NewReader(list))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mustFail := strings.HasPrefix(line, "!")
		err := t.Run(ctx, strings.Fields(strings.TrimPrefix(line, "!")))
		switch {
		case err == nil && !mustFail:
			fmt.Fprintf(t.Out, "job %d ok: %s\n", n, line)
		case err != nil && mustFail:
			fmt.Fprintf(t.Out, "job %d ok: %s: refused: %v\n", n, line, err)
		case err == nil:
			failed++
			fmt.Fprintf(t.Out, "job %d failed: %s: it should have failed\n", n, line)
		default:
			failed++
			fmt.Fprintf(t.Out, "job %d failed: %s: %v\n", n, line, err)
		}
	}
	fmt.Fprintf(t.Out, "jobs done: %d failed\n", failed)
	if failed > 0 {
		return fmt.Errorf("jobs: %d failed", failed)
	}
	return nil
}

// untar copies regular files from the tar on device into dir; names are
// kept to one level so nothing lands outside dir.
func untar(device, dir string) error {
	f, err := os.Open(device)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", device, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Base(h.Name)
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", device, name, err)
		}
	}
}
