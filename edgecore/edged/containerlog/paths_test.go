package containerlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestPathsFollowKubelet(t *testing.T) {
	if got, want := PodDir("/var/log/pods", "kube-system", "coredns-x", "1234-ab"), "/var/log/pods/kube-system_coredns-x_1234-ab"; got != want {
		t.Errorf("PodDir = %s, want %s", got, want)
	}
	if got, want := Path("/var/log/pods", "default", "web", "u1", "nginx", 3), "/var/log/pods/default_web_u1/nginx/3.log"; got != want {
		t.Errorf("Path = %s, want %s", got, want)
	}
}

func TestRemovePod(t *testing.T) {
	root := t.TempDir()
	keep := Path(root, "default", "keep", "u2", "c", 0)
	gone := Path(root, "default", "web", "u1", "c", 0)
	for _, p := range []string{keep, gone, gone + ".20260102-030405"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemovePod(root, "default", "web", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(PodDir(root, "default", "web", "u1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pod directory still there: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("other pod's log is gone: %v", err)
	}
	if err := RemovePod(root, "default", "web", "u1"); err != nil {
		t.Errorf("removing again: %v, want nil", err)
	}
}

func TestRemovePodRefusesEscapes(t *testing.T) {
	outer := t.TempDir()
	root := filepath.Join(outer, "pods")
	victim := filepath.Join(outer, "victim")
	for _, d := range []string{root, victim} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name               string
		root, ns, pod, uid string
	}{
		{"relative root", "pods", "default", "web", "u1"},
		{"empty root", "", "default", "web", "u1"},
		{"empty uid", root, "default", "web", ""},
		{"empty namespace", root, "", "web", "u1"},
		{"separator in name", root, "default", "x/../../victim", "u1"},
		{"separator in uid", root, "a", "b", "c/../../../victim"},
		{"NUL in name", root, "default", "we\x00b", "u1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := RemovePod(tt.root, tt.ns, tt.pod, tt.uid); err == nil {
				t.Error("RemovePod accepted it")
			}
		})
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("directory outside the root was touched: %v", err)
	}
}

func TestRemovePodRemovesSymlinkNotTarget(t *testing.T) {
	root := t.TempDir()
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "precious"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, PodDir(root, "default", "web", "u1")); err != nil {
		t.Fatal(err)
	}
	if err := RemovePod(root, "default", "web", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(target, "precious")); err != nil {
		t.Errorf("symlink target's content removed: %v", err)
	}
}

func TestRemoveLog(t *testing.T) {
	path := testPath(t)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"0.log", "0.log.20260102-030405", "0.log.20260102-030405.1", "1.log", "0.log.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveLog(path); err != nil {
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
	if !sameSet(left, []string{"1.log", "0.log.tmp"}) {
		t.Errorf("left %q, want 1.log and 0.log.tmp", left)
	}
	if err := RemoveLog(path); err != nil {
		t.Errorf("removing again: %v", err)
	}
}
