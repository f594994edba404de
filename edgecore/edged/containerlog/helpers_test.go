package containerlog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

// fixedClock always returns t.
func fixedClock(t time.Time) func() time.Time {
	return func() time.Time { return t }
}

// steppingClock advances by step on every call, so every rotation gets its
// own second when step is a second.
func steppingClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

// testPath is a log path under a fresh temporary root.
func testPath(t *testing.T) string {
	t.Helper()
	return Path(t.TempDir(), "default", "web", "uid-1", "app", 0)
}

// readRecords parses every line of a log file, failing on any that is not a
// CRI record.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := parseRecord(bytes.Clone(sc.Bytes()))
		if err != nil {
			t.Fatalf("%s: line %q is not a CRI record: %v", path, sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return recs
}

// joinRecords rebuilds the lines of one stream from its records.
func joinRecords(recs []record, stream string) []string {
	var lines []string
	var cur strings.Builder
	for _, r := range recs {
		if r.stream != stream {
			continue
		}
		cur.Write(r.text)
		if !r.partial {
			lines = append(lines, cur.String())
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// numberedLines returns n distinct lines of exactly width bytes each
// (without the newline).
func numberedLines(prefix string, n, width int) []string {
	lines := make([]string, n)
	for i := range lines {
		s := fmt.Sprintf("%s-%06d-", prefix, i)
		lines[i] = s + strings.Repeat("x", max(0, width-len(s)))
	}
	return lines
}

func joinLines(lines []string) string {
	return strings.Join(lines, "\n") + "\n"
}

// logFiles returns the live file and the rotated files of path with their
// sizes.
func logFiles(t *testing.T, path string) map[string]int64 {
	t.Helper()
	matches, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]int64{}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		files[m] = st.Size()
	}
	return files
}
