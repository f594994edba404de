package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestJail runs enterJail in a child process (it changes the process's
// root and mount namespace) and checks what the daemon would see: the
// system's files read-only, /proc and writable submounts as before, and none
// of the jail's mounts in the parent's namespace afterwards.
func TestJail(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces, chroot)")
	}
	jail := filepath.Join(t.TempDir(), "jail")
	cmd := exec.Command(os.Args[0], "-test.run=^TestJailChild$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEGATE_JAIL="+jail, "EDGEGATE_JAIL_STATE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "jail ok") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), jail) {
		t.Errorf("jail mount leaked into the parent's namespace:\n%s", mounts)
	}
}

// TestJailChild is the child side of TestJail.
func TestJailChild(t *testing.T) {
	jail := os.Getenv("EDGEGATE_JAIL")
	if jail == "" {
		t.Skip("run by TestJail")
	}
	state := stateMount(t, os.Getenv("EDGEGATE_JAIL_STATE"))
	if err := enterJail(jail); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/jail-probe", nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("writing to the jail's root: %v, want EROFS", err)
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Errorf("/proc in the jail: %v", err)
	}
	// Filesystems mounted below the root (/var, /run, /tmp on the device;
	// /dev/shm here too) keep their own flags.
	probe := filepath.Join("/dev/shm", fmt.Sprintf("jail-probe-%d", os.Getpid()))
	if err := os.WriteFile(probe, []byte("x"), 0o644); err != nil {
		t.Errorf("a filesystem below the jail's root must stay writable: %v", err)
	}
	os.Remove(probe)
	// ... and their nosuid and nodev: the daemon's state and the
	// containers' snapshots are on /var.
	if got := mountFlags(t, state); got != "nosuid,nodev" {
		t.Errorf("a nosuid,nodev filesystem below the root is %q in the jail", got)
	}
	if !t.Failed() {
		t.Log("jail ok")
	}
}

// stateMount mounts a tmpfs nosuid,nodev on dir as init mounts /var, in
// a mount namespace of the calling thread's own, and returns dir. The
// thread stays locked: enterJail must run on it.
func stateMount(t *testing.T, dir string) string {
	t.Helper()
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountFlags is which of nosuid and nodev the mount at dir has, as this
// thread's mountinfo lists it (relative to its root; of mounts stacked on
// dir, the top one). The thread, not the process: only the thread entered
// the jail's namespace.
func mountFlags(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	var flags []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == dir {
			found, flags = true, nil
			for _, o := range strings.Split(f[5], ",") {
				if o == "nosuid" || o == "nodev" {
					flags = append(flags, o)
				}
			}
		}
	}
	if !found {
		t.Fatalf("%s is not a mount point", dir)
	}
	return strings.Join(flags, ",")
}
