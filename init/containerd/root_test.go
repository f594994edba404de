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

// TestJailChild is the child side of TestJail. The jail is entered on a
// thread other than the process's main one, as the daemon's start may be:
// that thread's mount namespace is then not the one /proc/self shows.
func TestJailChild(t *testing.T) {
	jail := os.Getenv("EDGEGATE_JAIL")
	if jail == "" {
		t.Skip("run by TestJail")
	}
	var errs []error
	offMainThread(func() { errs = jailChild(jail, os.Getenv("EDGEGATE_JAIL_STATE")) })
	for _, err := range errs {
		t.Error(err)
	}
	if !t.Failed() {
		t.Log("jail ok")
	}
}

// offMainThread runs f on a locked thread that is not the process's main
// one, and waits for it. f's thread is never unlocked: it ends with f's
// goroutine, namespaces and all.
func offMainThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Holding the main thread, the goroutine below gets another.
			defer runtime.UnlockOSThread()
			offMainThread(f)
			return
		}
		f()
	}()
	<-done
}

// jailChild enters the jail on the calling (locked) thread and returns
// what is wrong in it.
func jailChild(jail, state string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := stateMount(state); err != nil {
		return []error{err}
	}
	// /etc in RAM, a filesystem of its own as on the gateway: read-only
	// in the jail like the root.
	if err := unix.Mount("tmpfs", "/etc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return []error{err}
	}
	if err := enterJail(jail); err != nil {
		return []error{err}
	}
	for _, p := range []string{"/jail-probe", "/etc/jail-probe"} {
		if err := os.WriteFile(p, nil, 0o644); !errors.Is(err, unix.EROFS) {
			fail("writing %s in the jail: %v, want EROFS", p, err)
		}
	}
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		fail("/proc in the jail: %v", err)
	}
	// Filesystems mounted below the root (/var, /run, /tmp on the device;
	// /dev/shm here too) keep their own flags.
	probe := filepath.Join("/dev/shm", fmt.Sprintf("jail-probe-%d", os.Getpid()))
	if err := os.WriteFile(probe, []byte("x"), 0o644); err != nil {
		fail("a filesystem below the jail's root must stay writable: %v", err)
	}
	os.Remove(probe)
	// ... and their nosuid and nodev: the daemon's state and the
	// containers' snapshots are on /var.
	if got, err := mountFlags(state); err != nil || got != "nosuid,nodev" {
		fail("a nosuid,nodev filesystem below the root is %q in the jail (%v)", got, err)
	}
	return errs
}

// stateMount mounts a tmpfs nosuid,nodev on dir as init mounts /var, in
// a mount namespace of the calling thread's own. The thread must be
// locked: enterJail must run on it.
func stateMount(dir string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "")
}

// mountFlags is which of nosuid and nodev the mount at dir has, as this
// thread's mountinfo lists it (relative to its root; of mounts stacked on
// dir, the top one). The thread, not the process: only the thread entered
// the jail's namespace.
func mountFlags(dir string) (string, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return "", err
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
		return "", fmt.Errorf("%s is not a mount point", dir)
	}
	return strings.Join(flags, ","), nil
}
