package containerlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func TestCopyByteExact(t *testing.T) {
	path := testPath(t)
	w, err := Open(path, Limits{}, fixedClock(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stdout, strings.NewReader("hello\n\nworld\r\nno newline")); err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stderr, strings.NewReader("a\rb\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2026-01-02T03:04:05.123456789Z stdout F hello\n" +
		"2026-01-02T03:04:05.123456789Z stdout F \n" +
		"2026-01-02T03:04:05.123456789Z stdout F world\n" +
		"2026-01-02T03:04:05.123456789Z stdout P no newline\n" +
		"2026-01-02T03:04:05.123456789Z stderr F a\rb\n"
	if string(got) != want {
		t.Errorf("file is\n%q\nwant\n%q", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want 0640 as containerd creates it", st.Mode().Perm())
	}
}

func TestCopyLongLineSplitsAtMaxLineBytes(t *testing.T) {
	path := testPath(t)
	w, err := Open(path, Limits{}, fixedClock(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789", 4000) // 40000 bytes
	if err := w.Copy(Stdout, iotest.HalfReader(strings.NewReader(long+"\nshort\n"+long))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path)
	var shape []string
	for _, r := range recs {
		tag := "F"
		if r.partial {
			tag = "P"
		}
		shape = append(shape, tag+":"+strconv.Itoa(len(r.text)))
	}
	want := "P:16384 P:16384 F:7232 F:5 P:16384 P:16384 P:7232"
	if got := strings.Join(shape, " "); got != want {
		t.Errorf("records %s, want %s", got, want)
	}
	lines := joinRecords(recs, Stdout)
	if len(lines) != 3 || lines[0] != long || lines[1] != "short" || lines[2] != long {
		t.Errorf("rebuilt %d lines, want the long line, short and the long line again", len(lines))
	}
}

func TestCopyInterleavedStreamsKeepWholeRecords(t *testing.T) {
	path := testPath(t)
	w, err := Open(path, Limits{MaxBytes: 1 << 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Lines of varied length, some longer than MaxLineBytes, so that records
	// of both streams and P pieces interleave.
	mk := func(prefix string) []string {
		lines := numberedLines(prefix, 3000, 0)
		for i := range lines {
			lines[i] += strings.Repeat(prefix[:1], (i*7919)%300)
			if i%500 == 0 {
				lines[i] += strings.Repeat("L", MaxLineBytes+i)
			}
		}
		return lines
	}
	want := map[string][]string{Stdout: mk("out"), Stderr: mk("err")}
	var wg sync.WaitGroup
	for stream, lines := range want {
		pr, pw := io.Pipe()
		wg.Go(func() {
			if err := w.Copy(stream, pr); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			for _, l := range lines {
				if _, err := io.WriteString(pw, l+"\n"); err != nil {
					t.Error(err)
					return
				}
			}
			_ = pw.Close()
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path) // fails on any torn or merged record
	streams := map[string]bool{}
	for _, r := range recs {
		streams[r.stream] = true
	}
	for stream, lines := range want {
		got := joinRecords(recs, stream)
		if len(got) != len(lines) {
			t.Fatalf("%s: %d lines, want %d", stream, len(got), len(lines))
		}
		for i := range lines {
			if got[i] != lines[i] {
				t.Fatalf("%s line %d: got %.40q..., want %.40q...", stream, i, got[i], lines[i])
			}
		}
	}
	if s := w.Stats(); s.DroppedRecords != 0 || s.Errors != 0 {
		t.Errorf("stats %+v, want nothing dropped", s)
	}
}

func TestReopenAppends(t *testing.T) {
	path := testPath(t)
	first := numberedLines("before", 50, 40)
	second := numberedLines("after", 50, 40)
	for _, lines := range [][]string{first, second} {
		w, err := Open(path, Limits{}, fixedClock(testEpoch))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Copy(Stdout, strings.NewReader(joinLines(lines))); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := joinRecords(readRecords(t, path), Stdout)
	want := append(append([]string{}, first...), second...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after reopening, the file holds %d lines, want the %d of both runs in order", len(got), len(want))
	}
}

func TestReopenAfterTornRecordStartsOnNewLine(t *testing.T) {
	path := testPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a write leaves a record without its newline.
	torn := "2026-01-02T03:04:05Z stdout F complete\n2026-01-02T03:04:05Z stdout F tor"
	if err := os.WriteFile(path, []byte(torn), 0o640); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, Limits{}, fixedClock(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stderr, strings.NewReader("next\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := torn + "\n2026-01-02T03:04:05.123456789Z stderr F next\n"
	if string(got) != want {
		t.Errorf("file is %q, want %q", got, want)
	}
}

func TestOpenLimits(t *testing.T) {
	tests := []struct {
		name    string
		in      Limits
		want    Limits
		wantErr bool
	}{
		{"defaults", Limits{}, Limits{MaxBytes: 10 << 20, MaxFiles: 5}, false},
		{"explicit", Limits{MaxBytes: 1000, MaxFiles: 2}, Limits{MaxBytes: 1000, MaxFiles: 2}, false},
		{"one file is not enough, as in kubelet", Limits{MaxFiles: 1}, Limits{}, true},
		{"negative files", Limits{MaxFiles: -1}, Limits{}, true},
		{"negative size", Limits{MaxBytes: -1}, Limits{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Open(testPath(t), tt.in, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer func() { _ = w.Close() }()
			if w.limits != tt.want {
				t.Errorf("limits %+v, want %+v", w.limits, tt.want)
			}
		})
	}
}

func TestCopyRejectsUnknownStream(t *testing.T) {
	w, err := Open(testPath(t), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	if err := w.Copy("stdin", strings.NewReader("x\n")); err == nil {
		t.Error("Copy accepted stream stdin")
	}
}

func TestCopyReturnsReadErrorAfterWritingWhatItRead(t *testing.T) {
	path := testPath(t)
	w, err := Open(path, Limits{}, fixedClock(testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("fifo gone")
	err = w.Copy(Stdout, io.MultiReader(strings.NewReader("whole\nhal"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Errorf("Copy returned %v, want the read error", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path)
	if len(recs) != 2 || string(recs[0].text) != "whole" || recs[0].partial || string(recs[1].text) != "hal" || !recs[1].partial {
		t.Errorf("records %+v, want F whole and P hal", recs)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestCopyGivesUpOnReaderWithoutProgress(t *testing.T) {
	w, err := Open(testPath(t), Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	if err := w.Copy(Stdout, stuckReader{}); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("Copy returned %v, want io.ErrNoProgress", err)
	}
}

func TestCopyAfterCloseDrainsAndCountsDrops(t *testing.T) {
	path := testPath(t)
	w, err := Open(path, Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := strings.NewReader("one\ntwo\n")
	if err := w.Copy(Stdout, r); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread", r.Len())
	}
	if s := w.Stats(); s.DroppedRecords != 2 || s.DroppedBytes != 6 {
		t.Errorf("stats %+v, want 2 records and 6 bytes dropped", s)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("file after close: %v, %v; want it empty", st, err)
	}
}
