package containerlog

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeRotating writes lines through a Writer with the given limits and
// clock and returns its stats.
func writeRotating(t *testing.T, path string, l Limits, now func() time.Time, lines []string) Stats {
	t.Helper()
	w, err := Open(path, l, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stdout, strings.NewReader(joinLines(lines))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Stats()
}

// oneRecord is the size of a record for a 100-byte line with testEpoch-like
// timestamps (30 bytes) on stdout.
const oneRecord = 30 + len(Stdout) + 100 + recordOverhead

func TestRotationKeepsDiskBounded(t *testing.T) {
	clocks := map[string]func() time.Time{
		// one second per call: every rotated file gets kubelet's plain name
		"advancing clock": steppingClock(testEpoch, time.Second),
		// all rotations within one second: names get a .<n> suffix
		"frozen clock": fixedClock(testEpoch),
	}
	for name, clock := range clocks {
		t.Run(name, func(t *testing.T) {
			path := testPath(t)
			l := Limits{MaxBytes: 4096, MaxFiles: 3}
			lines := numberedLines("line", int(10*l.MaxBytes)/oneRecord+1, 100)
			stats := writeRotating(t, path, l, clock, lines)

			files := logFiles(t, path)
			if len(files) > l.MaxFiles {
				t.Errorf("%d files on disk, want at most %d: %v", len(files), l.MaxFiles, files)
			}
			var total int64
			for f, size := range files {
				total += size
				if size > l.MaxBytes {
					t.Errorf("%s has %d bytes, cap is %d", f, size, l.MaxBytes)
				}
			}
			if limit := l.MaxBytes*int64(l.MaxFiles) + int64(oneRecord); total > limit {
				t.Errorf("%d bytes on disk, want at most %d", total, limit)
			}
			if stats.Rotations < 9 || stats.DroppedRecords != 0 || stats.Errors != 0 {
				t.Errorf("stats %+v, want >= 9 rotations and nothing dropped", stats)
			}
			// What is kept is the newest part of the output, without gaps.
			kept := keptLines(t, path)
			if len(kept) < int(2*l.MaxBytes)/oneRecord {
				t.Fatalf("only %d lines kept", len(kept))
			}
			if want := lines[len(lines)-len(kept):]; strings.Join(kept, "\n") != strings.Join(want, "\n") {
				t.Errorf("kept lines are not the last %d lines written", len(kept))
			}
		})
	}
}

// keptLines reads the rotated files oldest first and then the live file.
func keptLines(t *testing.T, path string) []string {
	t.Helper()
	rotated, err := listRotated(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for _, p := range append(rotated, path) {
		recs = append(recs, readRecords(t, p)...)
	}
	return joinRecords(recs, Stdout)
}

func TestRotatedFileNamedLikeKubelet(t *testing.T) {
	path := testPath(t)
	l := Limits{MaxBytes: 2 * int64(oneRecord), MaxFiles: 5}
	writeRotating(t, path, l, steppingClock(testEpoch, time.Second), numberedLines("x", 3, 100))
	rotated, err := listRotated(path)
	if err != nil {
		t.Fatal(err)
	}
	// The clock ticks a second per reading: the records, read at once, are
	// stamped +1s, and the rotation the third one triggers reads +2s.
	want := []string{path + ".20260102-030407"}
	if strings.Join(rotated, ",") != strings.Join(want, ",") {
		t.Errorf("rotated files %q, want %q", rotated, want)
	}
	if !regexp.MustCompile(`^\d+\.log\.\d{8}-\d{6}$`).MatchString(filepath.Base(rotated[0])) {
		t.Errorf("%s does not follow kubelet's <name>.<YYYYMMDD-hhmmss>", rotated[0])
	}
}

func TestSameSecondRotationsSortInOrder(t *testing.T) {
	path := testPath(t)
	l := Limits{MaxBytes: int64(oneRecord), MaxFiles: 15} // one record per file
	lines := numberedLines("n", 14, 100)
	writeRotating(t, path, l, fixedClock(testEpoch), lines)
	rotated, err := listRotated(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 13 {
		t.Fatalf("%d rotated files, want 13", len(rotated))
	}
	// .10 and up must sort after .9, which plain string order would not do.
	if got := filepath.Base(rotated[12]); got != "0.log.20260102-030405.12" {
		t.Errorf("newest rotated file is %s", got)
	}
	if got := keptLines(t, path); strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Errorf("lines read back in rotation order are %q", got)
	}
}

func TestRecordLargerThanMaxBytesGetsItsOwnFile(t *testing.T) {
	path := testPath(t)
	l := Limits{MaxBytes: 100, MaxFiles: 2}
	lines := []string{"short", strings.Repeat("y", 300), "after"}
	stats := writeRotating(t, path, l, steppingClock(testEpoch, time.Second), lines)
	if stats.DroppedRecords != 0 || stats.Rotations != 2 {
		t.Errorf("stats %+v, want 2 rotations and nothing dropped", stats)
	}
	if got := keptLines(t, path); strings.Join(got, "|") != strings.Repeat("y", 300)+"|after" {
		t.Errorf("kept %q", got)
	}
}

func TestOpenPrunesAndLeavesForeignFilesAlone(t *testing.T) {
	path := testPath(t)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ours := []string{
		"0.log.20250101-000000", "0.log.20250101-000001", "0.log.20250101-000001.1",
		"0.log.20250101-000001.2", "0.log.20250101-000002",
	}
	foreign := []string{"0.log.20250101-000000.gz", "0.log.tmp", "0.log.2025-01-01", "1.log.20250101-000000", "0.log.20250101-000003.01"}
	for _, n := range append(append([]string{}, ours...), foreign...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Open(path, Limits{MaxFiles: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := append([]string{"0.log", "0.log.20250101-000001.2", "0.log.20250101-000002"}, foreign...)
	if !sameSet(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

func TestParseRotated(t *testing.T) {
	tests := []struct {
		name      string
		wantStamp string
		wantSeq   int
		wantOK    bool
	}{
		{"0.log.20260102-030405", "20260102-030405", 0, true},
		{"0.log.20260102-030405.7", "20260102-030405", 7, true},
		{"0.log.20260102-030405.12", "20260102-030405", 12, true},
		{"0.log.20260102-030405.gz", "", 0, false},
		{"0.log.20260102-030405.tmp", "", 0, false},
		{"0.log.20260102-030405.", "", 0, false},
		{"0.log.20260102-030405.07", "", 0, false},
		{"0.log.20260102_030405", "", 0, false},
		{"0.log.2026010-0304051", "", 0, false},
		{"0.log", "", 0, false},
		{"10.log.20260102-030405", "", 0, false},
		{"0.logx20260102-030405", "", 0, false},
	}
	for _, tt := range tests {
		stamp, seq, ok := parseRotated("0.log", tt.name)
		if stamp != tt.wantStamp || seq != tt.wantSeq || ok != tt.wantOK {
			t.Errorf("parseRotated(%q) = %q, %d, %v; want %q, %d, %v", tt.name, stamp, seq, ok, tt.wantStamp, tt.wantSeq, tt.wantOK)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestNextRotated(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(rotationLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	file := func(stamp string, seq int) rotatedFile { return rotatedFile{stamp: stamp, seq: seq} }
	tests := []struct {
		name     string
		existing []rotatedFile
		now      string
		want     string
	}{
		{"first", nil, "20260102-030405", "0.log.20260102-030405"},
		{"later second", []rotatedFile{file("20260102-030404", 3)}, "20260102-030405", "0.log.20260102-030405"},
		{"same second", []rotatedFile{file("20260102-030405", 0)}, "20260102-030405", "0.log.20260102-030405.1"},
		{"same second again", []rotatedFile{file("20260102-030405", 0), file("20260102-030405", 9)}, "20260102-030405", "0.log.20260102-030405.10"},
		{"clock stepped back", []rotatedFile{file("20260102-030405", 0)}, "19700101-000010", "0.log.20260102-030405.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextRotated("0.log", tt.existing, at(tt.now)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
