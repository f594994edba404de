package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd.Env = append(os.Environ(), "EDGEGATE_JAIL="+jail)
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
	if !t.Failed() {
		t.Log("jail ok")
	}
}
