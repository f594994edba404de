package containerlog

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultyFile is a live file whose writes and truncations can be made to fail
// the way a full disk fails them: half the data lands, then ENOSPC.
type faultyFile struct {
	*os.File
	failWrites   *atomic.Bool
	failTruncate bool
}

func (f *faultyFile) Write(p []byte) (int, error) {
	if f.failWrites.Load() {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *faultyFile) Truncate(size int64) error {
	if f.failTruncate {
		return syscall.EIO
	}
	return f.File.Truncate(size)
}

// script is a reader that returns one chunk per Read, running each chunk's
// hook first. Copy writes and flushes everything of one chunk before it
// reads the next, so a hook decides the fate of exactly its chunk.
type script struct {
	steps []step
	read  int
}

type step struct {
	hook func()
	data string
}

func (s *script) Read(p []byte) (int, error) {
	if s.read == len(s.steps) {
		return 0, io.EOF
	}
	st := s.steps[s.read]
	s.read++
	if st.hook != nil {
		st.hook()
	}
	if len(st.data) > len(p) {
		panic("script chunk larger than the read buffer")
	}
	return copy(p, st.data), nil
}

func textBytes(lines []string) int64 {
	var n int64
	for _, l := range lines {
		n += int64(len(l))
	}
	return n
}

func TestWriteFailureDropsAndRecovers(t *testing.T) {
	for _, truncateFails := range []bool{false, true} {
		name := "truncate undoes the short write"
		if truncateFails {
			name = "truncate fails too"
		}
		t.Run(name, func(t *testing.T) {
			path := testPath(t)
			var fail atomic.Bool
			opts := defaultOptions()
			opts.openFile = func(p string) (logFile, error) {
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
				if err != nil {
					return nil, err
				}
				return &faultyFile{File: f, failWrites: &fail, failTruncate: truncateFails}, nil
			}
			w, err := open(path, Limits{}, fixedClock(testEpoch), opts)
			if err != nil {
				t.Fatal(err)
			}
			// Nine records of b: half the batch ends inside a record.
			a, b, c := numberedLines("a", 10, 50), numberedLines("b", 9, 50), numberedLines("c", 10, 50)
			in := &script{steps: []step{
				{func() { fail.Store(false) }, joinLines(a)},
				{func() { fail.Store(true) }, joinLines(b)},
				{func() { fail.Store(false) }, joinLines(c)},
			}}
			if err := w.Copy(Stdout, in); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if in.read != len(in.steps) {
				t.Fatalf("Copy stopped reading after %d of %d chunks", in.read, len(in.steps))
			}
			stats := w.Stats()
			if stats.DroppedRecords != int64(len(b)) || stats.DroppedBytes != textBytes(b) {
				t.Errorf("dropped %d records, %d bytes; want %d, %d", stats.DroppedRecords, stats.DroppedBytes, len(b), textBytes(b))
			}
			if !errors.Is(stats.LastError, syscall.ENOSPC) && !errors.Is(stats.LastError, syscall.EIO) {
				t.Errorf("last error %v", stats.LastError)
			}
			// The lines after the failure made it, each as a whole record.
			tail, err := Tail(path, len(c))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(tail, "\n") != strings.Join(c, "\n") {
				t.Errorf("last lines %q, want %q", tail, c)
			}
			if truncateFails {
				// The half batch stays; its torn last record was ended so
				// that it spoils only itself.
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				bad := 0
				for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
					if _, err := parseRecord([]byte(l)); err != nil {
						bad++
					}
				}
				if bad > 1 {
					t.Errorf("%d unreadable lines, want at most the torn one", bad)
				}
				return
			}
			want := append(append([]string{}, a...), c...)
			if got := joinRecords(readRecords(t, path), Stdout); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("file holds %q, want the lines before and after the failure", got)
			}
		})
	}
}

func TestReopenFailureAfterRotationIsRetried(t *testing.T) {
	path := testPath(t)
	var refuse atomic.Bool
	opts := defaultOptions()
	opts.openFile = func(p string) (logFile, error) {
		if refuse.Load() {
			return nil, syscall.ENOSPC
		}
		return openAppend(p)
	}
	l := Limits{MaxBytes: 3 * int64(oneRecord), MaxFiles: 3}
	w, err := open(path, l, steppingClock(testEpoch, time.Second), opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := numberedLines("a", 3, 100), numberedLines("b", 2, 100), numberedLines("c", 2, 100)
	in := &script{steps: []step{
		{nil, joinLines(a)},
		{func() { refuse.Store(true) }, joinLines(b)}, // rotates, cannot create the new file
		{func() { refuse.Store(false) }, joinLines(c)},
	}}
	if err := w.Copy(Stdout, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.DroppedRecords != int64(len(b)) || s.Rotations != 1 {
		t.Errorf("stats %+v, want %d dropped and 1 rotation", s, len(b))
	}
	want := append(append([]string{}, a...), c...)
	if got := keptLines(t, path); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kept %q, want %q", got, want)
	}
}
