package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// waitFor polls until every path exists or the timeout passes; drivers
// probe asynchronously after their module loads.
func waitFor(paths []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not present after %v: %s", timeout, strings.Join(missing, " "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listDir returns the sorted names in dir matching pattern.
func listDir(dir, pattern string) []string {
	ms, _ := filepath.Glob(filepath.Join(dir, pattern))
	var names []string
	for _, m := range ms {
		names = append(names, filepath.Base(m))
	}
	sort.Strings(names)
	return names
}
