package metamanager

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Failed store writes are all counted, but logged only once per interval
// while they last: the first at once, then a summary, and a line when
// writes succeed again.
func TestStoreFailuresLoggedOncePerInterval(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at     time.Duration // after t0
		failed bool          // a failed write, else one that worked
		want   string        // the log line it causes ("" = none)
	}
	tests := []struct {
		name  string
		steps []step
		total uint64
	}{
		{"writes that work log nothing", []step{{0, false, ""}, {time.Hour, false, ""}}, 0},
		{"a run of failures", []step{
			{0, true, "cannot store default/nodepatch/gw: disk full; sent to the cloud anyway. Store failures are counted and logged once every 1m0s"},
			{10 * time.Second, true, ""},
			{50 * time.Second, true, ""},
			{61 * time.Second, true, "3 store writes failed in the last 1m1s (4 in total)"},
			{90 * time.Second, true, ""},
			{100 * time.Second, false, "store writes succeed again (1 failed since the last report, 5 in total)"},
			{110 * time.Second, false, ""},
		}, 5},
		{"a new run after recovery is logged at once", []step{
			{0, true, "cannot store"},
			{time.Second, false, "succeed again (0 failed since the last report, 1 in total)"},
			{2 * time.Second, true, "cannot store"},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			var lines []string
			s := newStoreFailures(time.Minute)
			s.now = func() time.Time { return now }
			s.log = func(line string, _ bool) { lines = append(lines, line) }
			for i, st := range tt.steps {
				now = t0.Add(st.at)
				before := len(lines)
				if st.failed {
					s.failed("default/nodepatch/gw", errors.New("disk full"), thenSentAnyway)
				} else {
					s.succeeded()
				}
				switch {
				case st.want == "" && len(lines) != before:
					t.Fatalf("step %d logged %q, want nothing", i, lines[before:])
				case st.want != "" && (len(lines) != before+1 || !strings.Contains(lines[before], st.want)):
					t.Fatalf("step %d logged %q, want one line with %q", i, lines[before:], st.want)
				}
			}
			if s.count() != tt.total {
				t.Fatalf("count %d, want %d", s.count(), tt.total)
			}
		})
	}
}
