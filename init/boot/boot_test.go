package boot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestVmRSS(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, status, want string }{
		{"present", "Name:\tinit\nVmRSS:\t    9000 kB\nThreads:\t7\n", "9000 kB"},
		{"absent", "Name:\tinit\n", "unknown"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte(tt.status), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := vmRSS(p); got != tt.want {
			t.Errorf("%s: vmRSS = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := vmRSS(filepath.Join(dir, "missing")); got[:7] != "unknown" {
		t.Errorf("missing file: %q", got)
	}
}

// TestDelegateControllers writes each controller on its own, as the
// kernel's cgroup.subtree_control takes them (here a plain file keeps
// only the last write).
func TestDelegateControllers(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	got, err := delegateControllers(root)
	if err != nil {
		t.Fatal(err)
	}
	if got != "+pids" {
		t.Errorf("last write = %q, want +pids", got)
	}
	if _, err := delegateControllers(t.TempDir()); err == nil {
		t.Error("no cgroup.controllers: want an error")
	}
}
