package hostctrd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgegate/edgegate/image/ctrdbuild"
)

// fakeCache writes one file per role into a cache-like directory, each
// with its own content, and returns them as a build's result.
func fakeCache(t *testing.T, dir string) ctrdbuild.Binaries {
	t.Helper()
	write := func(name string) string {
		p := filepath.Join(dir, name+"-amd64-0123", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n# "+name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return ctrdbuild.Binaries{
		Containerd: write("edgegate-containerd"),
		Runc:       write("runc"),
		Plugins:    map[string]string{"bridge": write("bridge"), "host-local": write("host-local")},
	}
}

// TestLayOutOutlivesTheCache: once laid out, the runtime stays whole when
// the cache drops its entries (a newer build landed), whether the layout
// is on the cache's filesystem (hard links) or another one (copies).
func TestLayOutOutlivesTheCache(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cache func(t *testing.T) string
	}{
		{"same filesystem", func(t *testing.T) string { return t.TempDir() }},
		{"other filesystem", otherFilesystem},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := tt.cache(t)
			bins := fakeCache(t, cache)
			l, err := LayOut(t.TempDir(), bins)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(cache); err != nil {
				t.Fatal(err)
			}
			for file, want := range map[string]string{
				l.Containerd(): "edgegate-containerd",
				filepath.Join(l.Bin(), "containerd-shim-runc-v2"): "edgegate-containerd",
				filepath.Join(l.Bin(), "edgegate-ctr"):            "edgegate-containerd",
				filepath.Join(l.Bin(), "runc"):                    "runc",
				filepath.Join(l.CNIBin(), "bridge"):               "bridge",
				filepath.Join(l.CNIBin(), "host-local"):           "host-local",
			} {
				st, err := os.Lstat(file)
				if err != nil {
					t.Fatalf("%s after the cache dropped its entries: %v", file, err)
				}
				if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
					t.Errorf("%s: mode %s, want an executable file", file, st.Mode())
				}
				data, err := os.ReadFile(file)
				if err != nil || !strings.Contains(string(data), "# "+want+"\n") {
					t.Errorf("%s holds %q (%v), want the %s build", file, data, err, want)
				}
			}
		})
	}
}

// otherFilesystem is a temporary directory on a filesystem other than
// t.TempDir()'s, or skips t.
func otherFilesystem(t *testing.T) string {
	dev := func(p string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return 0
		}
		return st.Dev
	}
	base := t.TempDir()
	for _, candidate := range []string{"/dev/shm", "/run", "/var/tmp"} {
		if d := dev(candidate); d != 0 && d != dev(base) {
			dir, err := os.MkdirTemp(candidate, "hostctrd-test-")
			if err != nil {
				continue
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	t.Skip("no writable filesystem besides the temporary directory's")
	return ""
}

func TestLayOutRefusesAnOccupiedDirectory(t *testing.T) {
	bins := fakeCache(t, t.TempDir())
	dir := t.TempDir()
	if _, err := LayOut(dir, bins); err != nil {
		t.Fatal(err)
	}
	_, err := LayOut(dir, bins)
	if err == nil || !strings.Contains(err.Error(), "laying out the runtime") {
		t.Fatalf("second LayOut into the same directory: %v, want an error naming the layout", err)
	}
}
