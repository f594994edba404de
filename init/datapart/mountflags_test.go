package datapart

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMountFlags mounts a real ext4 through a loop device as /var is
// mounted: no set-user-ID programs and no device nodes on the data
// partition (containers' setuid programs still work: their root is an
// overlay mount of its own), and no access-time writes.
func TestMountFlags(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (loop device, mount)")
	}
	mkfs, _ := tools(t)
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup")
	}
	img := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(img, make([]byte, partSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-t", "ext4", img).CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("no loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })

	target := t.TempDir()
	if err := mount(dev, target); err != nil {
		t.Fatal(err)
	}
	defer Unmount(target)
	opts := mountOptions(t, target)
	for _, want := range []string{"nosuid", "nodev", "noatime"} {
		if !slices.Contains(opts, want) {
			t.Errorf("%s is mounted %s, without %s", target, strings.Join(opts, ","), want)
		}
	}
}

// mountOptions are the per-mount options /proc/self/mountinfo lists for
// the mount point.
func mountOptions(t *testing.T, target string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == target {
			return strings.Split(f[5], ",")
		}
	}
	t.Fatalf("%s is not in /proc/self/mountinfo", target)
	return nil
}
