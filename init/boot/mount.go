package boot

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

type mountPoint struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

const cgroupRoot = "/sys/fs/cgroup"

// earlyMounts are the kernel filesystems everything else needs. The kernel
// does not mount devtmpfs itself (Debian's kernels lack DEVTMPFS_MOUNT).
// cgroup2 is the unified hierarchy containerd and runc expect;
// nsdelegate makes cgroup namespaces delegation boundaries.
var earlyMounts = []mountPoint{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"cgroup2", cgroupRoot, "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "nsdelegate"},
}

func mountEarly() error {
	for _, m := range earlyMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", m.target, err)
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		// EBUSY: already mounted, e.g. by a kernel with DEVTMPFS_MOUNT.
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// delegateControllers enables every available controller for the root's
// children, so containerd can put containers into cgroups with cpu,
// memory, io and pids limits. It returns the controllers now delegated.
func delegateControllers(root string) (string, error) {
	avail, err := os.ReadFile(root + "/cgroup.controllers")
	if err != nil {
		return "", fmt.Errorf("cgroup2: %w", err)
	}
	var enable []string
	for _, c := range strings.Fields(string(avail)) {
		enable = append(enable, "+"+c)
	}
	// One write per controller: a controller the kernel refuses (say,
	// cpu with realtime tasks about) must not keep the others off.
	var errs []error
	for _, c := range enable {
		if err := os.WriteFile(root+"/cgroup.subtree_control", []byte(c), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
		}
	}
	got, _ := os.ReadFile(root + "/cgroup.subtree_control")
	return strings.TrimSpace(string(got)), errors.Join(errs...)
}

func (s *System) reportCgroups() {
	got, err := delegateControllers(cgroupRoot)
	if err != nil {
		s.Console.Say("cgroup2: delegating controllers: %v", err)
	}
	s.Console.Say("mounts: proc sys dev dev/pts dev/shm run tmp; cgroup2 controllers delegated: %s", got)
}
