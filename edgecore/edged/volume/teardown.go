package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Teardown removes everything of the pod: first RunRoot/<uid>, unmounting
// what is mounted there (memory-backed volumes, and whatever else the
// caller mounted for the pod), then Root/<uid>: volumes, emptyDir data and
// whatever else the caller kept there. The pod's containers must be gone. A
// pod without directories is not an error, so Teardown can be repeated.
//
// It refuses a UID that is not a single path element, and a Root/<uid>
// with a mount of another filesystem anywhere in it: nothing is mounted
// there, so a mount is someone else's (an admin's) and deleting through it
// would destroy data that is not the pod's. (A bind mount from the same
// filesystem cannot be told apart by device and is not detected.) Symlinks
// (hostPath targets, the ..data links) are removed, never followed.
func (m Manager) Teardown(podUID string) error {
	if err := m.check(podUID); err != nil {
		return fmt.Errorf("tear down pod %q: %w", podUID, err)
	}
	if m.RunRoot != "" {
		if err := unmountAll(m.RunDir(podUID)); err != nil {
			return fmt.Errorf("tear down pod %s: %w", podUID, err)
		}
		if err := os.RemoveAll(m.RunDir(podUID)); err != nil {
			return fmt.Errorf("tear down pod %s: %w", podUID, err)
		}
	}
	dir := m.PodDir(podUID)
	root, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tear down pod %s: %w", podUID, err)
	}
	if !root.IsDir() {
		return fmt.Errorf("tear down pod %s: %s is not a directory", podUID, dir)
	}
	if err := refuseMountPoints(dir, root); err != nil {
		return fmt.Errorf("tear down pod %s: %w", podUID, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("tear down pod %s: %w", podUID, err)
	}
	return nil
}

// unmountAll detaches every mount at or below dir, deepest first. A
// detached mount goes once nothing uses it (a container that outlived
// the pod keeps its copy); the directory can be removed at once.
func unmountAll(dir string) error {
	mounts, err := mountinfo.GetMounts(func(info *mountinfo.Info) (skip, stop bool) {
		return info.Mountpoint != dir && !strings.HasPrefix(info.Mountpoint, dir+"/"), false
	})
	if err != nil {
		return fmt.Errorf("list mounts under %s: %w", dir, err)
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, mnt := range mounts {
		if err := unix.Unmount(mnt.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", mnt.Mountpoint, err)
		}
	}
	return nil
}

// refuseMountPoints fails if a directory under dir is on another device than
// dir itself, i.e. something is mounted there.
func refuseMountPoints(dir string, root os.FileInfo) error {
	dev, ok := deviceOf(root)
	if !ok {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if !d.IsDir() || p == dir {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if other, ok := deviceOf(info); ok && other != dev {
			return fmt.Errorf("%s is a mount point; unmount it first", p)
		}
		return nil
	})
}

func deviceOf(info os.FileInfo) (uint64, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(st.Dev), true // Dev is not uint64 on every platform
}
