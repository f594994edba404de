package boot

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// rssReportAfter is when init reports its own resident memory, and the
// gateway's used memory, once, after the boot's transient allocations
// have settled (the footprint benchmarks read those lines).
const rssReportAfter = 60 * time.Second

func (s *System) reportRSS(ctx context.Context, after time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(after):
	}
	s.Console.Say("init rss %s after %v", vmRSS("/proc/self/status"), after)
	if m, err := readMemory("/proc/meminfo"); err != nil {
		s.Console.Say("memory: %v", err)
	} else {
		s.Console.Say("memory: %d kB used (MemTotal %d kB - MemAvailable %d kB) %v after ready", m.used(), m.total, m.available, after)
	}
}

// memory is what /proc/meminfo says of the whole gateway, in kB.
type memory struct{ total, available int64 }

// used is what the kernel cannot hand to a new process without taking
// it from someone: what a pod cannot have.
func (m memory) used() int64 { return m.total - m.available }

// readMemory reads MemTotal and MemAvailable from a meminfo file.
func readMemory(path string) (memory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return memory{}, err
	}
	var m memory
	var seen int
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		switch {
		case f[0] != "MemTotal:" && f[0] != "MemAvailable:":
			continue
		case err != nil:
			return memory{}, fmt.Errorf("%s: %s %q is not a number of kB", path, f[0], f[1])
		case f[0] == "MemTotal:":
			m.total = v
		default:
			m.available = v
		}
		seen++
	}
	if seen != 2 {
		return memory{}, fmt.Errorf("%s: no MemTotal or MemAvailable", path)
	}
	return m, nil
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
