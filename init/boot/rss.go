package boot

import (
	"context"
	"os"
	"strings"
	"time"
)

// rssReportAfter is when init reports its own resident memory once, after
// the boot's transient allocations have settled (the footprint benchmark
// reads that line).
const rssReportAfter = 60 * time.Second

func (s *System) reportRSS(ctx context.Context, after time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(after):
	}
	s.Console.Say("init rss %s after %v", vmRSS("/proc/self/status"), after)
}

// vmRSS returns the VmRSS value of a /proc status file, e.g. "9876 kB".
func vmRSS(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
