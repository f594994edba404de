package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func goodSpec() Spec {
	return Spec{
		File: ImageFile, FSType: "erofs", Size: 130 * 4096,
		Verity: Verity{
			Algorithm: "sha256", BlockSize: 4096, DataBlocks: 129, HashOffset: 129 * 4096,
			RootHash: strings.Repeat("ab", 32), Salt: "5a17",
		},
	}
}

func TestSpecCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"good", func(*Spec) {}, ""},
		{"no file", func(s *Spec) { s.File = "" }, "file and fsType"},
		{"other hash", func(s *Spec) { s.Verity.Algorithm = "sha1" }, "algorithm"},
		{"other block size", func(s *Spec) { s.Verity.BlockSize = 512 }, "blockSize"},
		{"tree not after the data", func(s *Spec) { s.Verity.HashOffset = 4096 }, "disagree"},
		{"no room for the tree", func(s *Spec) { s.Size = s.Verity.HashOffset }, "no room"},
		{"short root hash", func(s *Spec) { s.Verity.RootHash = "abcd" }, "rootHash"},
		{"salt not hex", func(s *Spec) { s.Verity.Salt = "xyz" }, "salt"},
	}
	for _, tt := range tests {
		s := goodSpec()
		tt.change(&s)
		err := s.Check()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// TestTable: the dm-verity table for data and tree on one device, the
// tree starting the block after the superblock.
func TestTable(t *testing.T) {
	v := goodSpec().Verity
	want := "1 /dev/loop0 /dev/loop0 4096 4096 129 130 sha256 " + strings.Repeat("ab", 32) + " 5a17"
	if got := v.Table("/dev/loop0"); got != want {
		t.Errorf("Table = %q, want %q", got, want)
	}
	if v.Sectors() != 129*8 {
		t.Errorf("Sectors = %d", v.Sectors())
	}
}

func TestSpecRoundTrip(t *testing.T) {
	raw, err := goodSpec().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(p, raw, 0o644)
	got, err := ReadSpec(p)
	if err != nil || got != goodSpec() {
		t.Errorf("ReadSpec = %+v, %v", got, err)
	}
	os.WriteFile(p, []byte(`{"file":"root.img"}`), 0o644)
	if _, err := ReadSpec(p); err == nil {
		t.Error("an incomplete spec must be refused")
	}
	bad := goodSpec()
	bad.FSType = ""
	if _, err := bad.Marshal(); err == nil {
		t.Error("Marshal must refuse a spec that does not check")
	}
}

func TestSlotFromCmdline(t *testing.T) {
	tests := []struct{ cmdline, want, err string }{
		{"console=ttyAMA0 edgegate.slot=a quiet", "a", ""},
		{"edgegate.slot=B", "b", ""},
		{"edgegate.slot=c", "", "want a or b"},
		{"console=ttyAMA0", "", "no edgegate.slot="},
	}
	for _, tt := range tests {
		got, err := SlotFromCmdline(tt.cmdline)
		if got != tt.want || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: %q, %v; want %q, %q", tt.cmdline, got, err, tt.want, tt.err)
		}
	}
}

func TestHandover(t *testing.T) {
	h := Handover{Started: 812 * time.Millisecond, Steps: []Step{
		{"initramfs-modules", 812 * time.Millisecond, 1203 * time.Millisecond},
		{"root", 1203 * time.Millisecond, 1530 * time.Millisecond},
	}}
	env := h.Env()
	if env != "start=0.812 initramfs-modules=0.812-1.203 root=1.203-1.530" {
		t.Errorf("Env = %q", env)
	}
	got, err := ParseHandover(env)
	if err != nil || got.Started != h.Started || len(got.Steps) != 2 || got.Steps[1] != h.Steps[1] {
		t.Errorf("ParseHandover = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "root=1-2", "start=x", "start=1 root=2-1", "start=1 root"} {
		if _, err := ParseHandover(bad); err == nil {
			t.Errorf("ParseHandover(%q) accepted", bad)
		}
	}
}

// TestCopyTree: the root's /etc copied to RAM keeps files, modes,
// symbolic links and times.
func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	os.MkdirAll(filepath.Join(src, "edgegate"), 0o755)
	os.WriteFile(filepath.Join(src, "edgegate", "config.yaml"), []byte("hostname: gw\n"), 0o600)
	os.Symlink("/var/lib/kubeedge/ca", filepath.Join(src, "ca"))
	for _, p := range []string{"edgegate/config.yaml", "edgegate", "."} {
		os.Chtimes(filepath.Join(src, p), epoch, epoch)
	}
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "edgegate", "config.yaml"))
	if err != nil || string(b) != "hostname: gw\n" {
		t.Errorf("config: %q, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(dst, "edgegate", "config.yaml")); err != nil || st.Mode().Perm() != 0o600 || !st.ModTime().Equal(epoch) {
		t.Errorf("config: %v, %v", st, err)
	}
	if st, err := os.Stat(filepath.Join(dst, "edgegate")); err != nil || !st.ModTime().Equal(epoch) {
		t.Errorf("directory time: %v, %v", st.ModTime(), err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "ca")); err != nil || l != "/var/lib/kubeedge/ca" {
		t.Errorf("link: %q, %v", l, err)
	}
}

// TestRemoveFilesystem deletes a tree but the new root, and leaves what
// is mounted inside it alone.
func TestRemoveFilesystem(t *testing.T) {
	top := t.TempDir()
	for _, d := range []string{"sysroot/usr", "etc/edgegate", "lib/modules", "mnt"} {
		os.MkdirAll(filepath.Join(top, d), 0o755)
	}
	os.WriteFile(filepath.Join(top, "init"), []byte("x"), 0o755)
	os.WriteFile(filepath.Join(top, "etc/edgegate/root.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(top, "sysroot/usr/kept"), []byte("x"), 0o644)
	mounted := false
	if os.Geteuid() == 0 && unix.Mount("tmpfs", filepath.Join(top, "mnt"), "tmpfs", 0, "") == nil {
		mounted = true
		defer unix.Unmount(filepath.Join(top, "mnt"), unix.MNT_DETACH)
		os.WriteFile(filepath.Join(top, "mnt", "other-fs"), []byte("x"), 0o644)
	}
	if err := removeFilesystem(top, filepath.Join(top, "sysroot")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(top)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := "sysroot"
	if mounted {
		want = "mnt sysroot"
		if _, err := os.Stat(filepath.Join(top, "mnt", "other-fs")); err != nil {
			t.Errorf("a file on another filesystem was removed: %v", err)
		}
	}
	if got := strings.Join(left, " "); got != want {
		t.Errorf("left %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(top, "sysroot/usr/kept")); err != nil {
		t.Errorf("the new root lost a file: %v", err)
	}
}

func TestCorruptError(t *testing.T) {
	err := &CorruptError{Slot: "b", Err: os.ErrInvalid}
	if got := err.Error(); got != "root image of slot b is corrupt: invalid argument" {
		t.Errorf("Error = %q", got)
	}
}
