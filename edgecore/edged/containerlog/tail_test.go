package containerlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTailAssemblesLines(t *testing.T) {
	const ts = "2026-01-02T03:04:05Z "
	file := ts + "stdout F first\n" +
		ts + "stdout P sec\n" +
		ts + "stderr F err-one\n" + // interleaved while stdout's line is open
		ts + "stdout P o\n" +
		"garbage that is not a record\n" +
		ts + "stdout F nd\n" +
		ts + "stderr P err-\n" +
		ts + "stdout F \n" + // an empty line
		ts + "stderr P tail-no-newline\n"
	all := []string{"first", "err-one", "second", "", "err-tail-no-newline"}
	tests := []struct {
		n    int
		want []string
	}{
		{0, nil},
		{-1, nil},
		{1, all[4:]},
		{2, all[3:]},
		{3, all[2:]},
		{5, all},
		{50, all},
	}
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(file), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := Tail(path, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Tail(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestTailAcrossRotation(t *testing.T) {
	path := testPath(t)
	l := Limits{MaxBytes: 4096, MaxFiles: 4}
	lines := numberedLines("line", 200, 100)
	writeRotating(t, path, l, steppingClock(testEpoch, time.Second), lines)
	kept := keptLines(t, path)
	perFile := int(l.MaxBytes) / oneRecord
	for _, n := range []int{1, perFile - 1, perFile + 1, 2*perFile + 5, len(kept), len(kept) + 10} {
		got, err := Tail(path, n)
		if err != nil {
			t.Fatal(err)
		}
		want := kept[max(0, len(kept)-n):]
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Tail(%d) gave %d lines, not the last %d written", n, len(got), len(want))
		}
	}
}

func TestTailJoinsLineSplitByRotation(t *testing.T) {
	path := testPath(t)
	// Every record fills a file, so the pieces of a long line end up in
	// different files.
	l := Limits{MaxBytes: MaxLineBytes + 100, MaxFiles: 5}
	long := strings.Repeat("abcdefgh", 4*MaxLineBytes/8-1)
	writeRotating(t, path, l, steppingClock(testEpoch, time.Second), []string{"before", long, "after"})
	if n := len(logFiles(t, path)); n != 4 {
		t.Fatalf("%d files, want the line's four pieces spread over 4", n)
	}
	got, err := Tail(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != long || got[1] != "after" {
		t.Errorf("Tail(2) = %d lines, want the long line whole and \"after\"", len(got))
	}
}

func TestTailSkipsOverlongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	junk := strings.Repeat("j", 3*maxTailRecord)
	file := "2026-01-02T03:04:05Z stdout F one\n" + junk + "\n2026-01-02T03:04:05Z stdout F two\n"
	if err := os.WriteFile(path, []byte(file), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := Tail(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "one|two" {
		t.Errorf("Tail = %q, want one and two", got)
	}
}

func TestTailOfMissingLog(t *testing.T) {
	_, err := Tail(filepath.Join(t.TempDir(), "0.log"), 10)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tail of a missing log returned %v, want fs.ErrNotExist", err)
	}
}

func TestTailWithOnlyRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path+".20260102-030405", []byte("2026-01-02T03:04:05Z stdout F old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := Tail(path, 3)
	if err != nil || strings.Join(got, "|") != "old" {
		t.Errorf("Tail = %q, %v; want old", got, err)
	}
}
