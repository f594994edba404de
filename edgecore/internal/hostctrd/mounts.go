package hostctrd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// HasOverlay reports whether the kernel has the overlay filesystem,
// containerd's snapshotter for containers' root filesystems.
func HasOverlay() bool {
	data, err := os.ReadFile("/proc/filesystems")
	return err == nil && slices.ContainsFunc(strings.Split(string(data), "\n"), func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 0 && f[len(f)-1] == "overlay"
	})
}

// unmountUnder lazily unmounts, deepest first, every mount of this
// process's namespace below one of dirs.
func unmountUnder(dirs ...string) error {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return fmt.Errorf("unmounting what containerd left: %w", err)
	}
	var errs []error
	for _, target := range slices.Backward(mountsUnder(string(data), dirs)) {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", target, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points in mounts (/proc/self/mounts) below
// one of dirs, in mount order.
func mountsUnder(mounts string, dirs []string) []string {
	var under []string
	for l := range strings.Lines(mounts) {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(f[1], d+"/") }) {
			under = append(under, f[1])
		}
	}
	return under
}
