package containerd

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Why a jail: the daemon runs in its own mount namespace, chrooted into a
// recursive bind of "/" mounted at s.Jail. "/" is the slot's read-only
// root image (init/rootfs), so the jail is a real mount with a parent and
// runc's pivot_root works in it (it fails with EINVAL where the root is
// the kernel's initramfs; chroot instead, runc's NoPivotRoot, lets a
// process with CAP_SYS_ADMIN climb out of the container's root), and
// containers get the full isolation. The jail's top is read-only like the
// image below it, and so is its /etc, which the system keeps in RAM: the
// daemon has no business changing the gateway's configuration. /var,
// /run, /tmp and the kernel filesystems stay as they are. Mounts the init's
// namespace makes later under a shared mount point (the network namespaces
// edgecore creates for pods, their in-memory volumes and IPC namespaces)
// propagate into the jail one way. The daemon's socket and state are on
// the same filesystems as outside, so clients in the init's namespace see
// them at the same paths.

// enterJail must run on the thread that then executes the daemon: the
// unshare applies to that thread only, and exec carries it over.
func enterJail(jail string) error {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
		return fmt.Errorf("mount namespace: %w", err)
	}
	// Mounts made in this namespace must not leak back into the init's;
	// mounts under the init's shared points (Settings.NetNSDir and
	// PodsRunDir) must still reach the daemon: slave, not private.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave: %w", err)
	}
	if err := os.MkdirAll(jail, 0o755); err != nil {
		return fmt.Errorf("jail %s: %w", jail, err)
	}
	if err := unix.Mount("/", jail, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind / on %s: %w", jail, err)
	}
	ro := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	if err := unix.Mount("", jail, "", ro, ""); err != nil {
		return fmt.Errorf("read-only %s: %w", jail, err)
	}
	if etc := jail + "/etc"; isMountPoint(etc) {
		if err := unix.Mount("", etc, "", ro|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", etc, err)
		}
	}
	if err := unix.Chdir(jail); err != nil {
		return fmt.Errorf("chdir %s: %w", jail, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", jail, err)
	}
	return unix.Chdir("/")
}

// errNotRoot is returned when the jail cannot be built for lack of privilege.
var errNotRoot = errors.New("containerd must be started as root")
