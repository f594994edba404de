package volume

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// hostFixtures makes one host path of each kind in a temp dir and returns
// them by name; "block" is missing when block devices cannot be made here.
func hostFixtures(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	p := map[string]string{
		"dir":         filepath.Join(dir, "d"),
		"file":        filepath.Join(dir, "f"),
		"socket":      filepath.Join(dir, "s"),
		"char":        "/dev/null",
		"missing":     filepath.Join(dir, "missing"),
		"link to dir": filepath.Join(dir, "ld"),
		"orphan":      filepath.Join(dir, "no-parent", "f"),
	}
	if err := os.Mkdir(p["dir"], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p["file"], nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p["dir"], p["link to dir"]); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", p["socket"])
	if err != nil {
		t.Fatalf("listen on a unix socket: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	block := filepath.Join(dir, "b")
	// loop0's numbers; mknod needs CAP_MKNOD.
	if err := syscall.Mknod(block, syscall.S_IFBLK|0o600, 7<<8); err == nil {
		p["block"] = block
	}
	return p
}

func TestHostPath(t *testing.T) {
	paths := hostFixtures(t)
	type check struct {
		fixture string
		ok      bool
	}
	all := func(okFor ...string) []check {
		var checks []check
		for _, f := range []string{"dir", "file", "socket", "char", "block", "link to dir"} {
			ok := false
			for _, o := range okFor {
				ok = ok || o == f
			}
			checks = append(checks, check{f, ok})
		}
		return checks
	}
	types := []struct {
		typ    *v1.HostPathType
		checks []check
		want   string // error text for a wrong kind
	}{
		{nil, append(all("dir", "file", "socket", "char", "block", "link to dir"), check{"missing", true}), ""},
		{ptr(v1.HostPathUnset), append(all("dir", "file", "socket", "char", "block", "link to dir"), check{"missing", true}), ""},
		{ptr(v1.HostPathDirectory), append(all("dir", "link to dir"), check{"missing", false}), "is not a directory"},
		{ptr(v1.HostPathDirectoryOrCreate), all("dir", "link to dir"), "is not a directory"},
		{ptr(v1.HostPathFile), append(all("file"), check{"missing", false}), "is not a file"},
		{ptr(v1.HostPathFileOrCreate), append(all("file"), check{"orphan", false}), "is not a file"},
		{ptr(v1.HostPathSocket), append(all("socket"), check{"missing", false}), "is not a socket file"},
		{ptr(v1.HostPathCharDev), append(all("char"), check{"missing", false}), "is not a character device"},
		{ptr(v1.HostPathBlockDev), append(all("block"), check{"missing", false}), "is not a block device"},
	}
	for _, tt := range types {
		typ := "nil"
		if tt.typ != nil {
			typ = string(*tt.typ)
		}
		for _, c := range tt.checks {
			t.Run(typ+"/"+c.fixture, func(t *testing.T) {
				p, ok := paths[c.fixture]
				if !ok {
					t.Skip("cannot make a block device here (mknod needs CAP_MKNOD)")
				}
				mount, err := hostPath(&v1.HostPathVolumeSource{Path: p, Type: tt.typ})
				if !c.ok {
					if c.fixture == "missing" || c.fixture == "orphan" {
						requireErrContains(t, err, p)
					} else {
						requireErrContains(t, err, "hostPath type check failed", p, tt.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("hostPath: %v", err)
				}
				if mount.HostPath != p || mount.ReadOnly {
					t.Errorf("mount = %+v, want the path itself, writable", mount)
				}
			})
		}
	}
}

func TestHostPathCreates(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		typ  v1.HostPathType
		path string
		kind os.FileMode
	}{
		{v1.HostPathDirectoryOrCreate, filepath.Join(dir, "new", "nested"), os.ModeDir},
		{v1.HostPathFileOrCreate, filepath.Join(dir, "new-file"), 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			if _, err := hostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: &tc.typ}); err != nil {
				t.Fatalf("hostPath: %v", err)
			}
			info, err := os.Stat(tc.path)
			if err != nil {
				t.Fatalf("not created: %v", err)
			}
			if info.Mode().Type() != tc.kind {
				t.Errorf("created %v, want type %v", info.Mode(), tc.kind)
			}
			// Again: now it exists and must pass the check.
			if _, err := hostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: &tc.typ}); err != nil {
				t.Errorf("second check: %v", err)
			}
		})
	}
}

func TestHostPathRefusals(t *testing.T) {
	tests := []struct {
		path string
		typ  v1.HostPathType
		want string
	}{
		{"relative/dir", v1.HostPathUnset, "is not an absolute path"},
		{"/var/../etc", v1.HostPathUnset, "must not contain '..'"},
		{"/tmp", v1.HostPathType("Pipe"), `type "Pipe" is not a valid hostPath type`},
	}
	for _, tc := range tests {
		_, err := hostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: &tc.typ})
		requireErrContains(t, err, tc.want)
	}
}

func TestHostPathThroughSetup(t *testing.T) {
	dir := t.TempDir()
	vol := v1.Volume{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: dir, Type: ptr(v1.HostPathFile)}}}
	_, err := setupOne(t, newManager(t), nil, vol)
	requireErrContains(t, err, "volume host:", "is not a file")
}
