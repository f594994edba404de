package volume

import (
	"errors"
	"fmt"
	"os"
)

// makeDir creates dir if missing and gives it exactly mode and, when gid is
// set, that group. The mode is set explicitly because Mkdir is subject to
// the umask (a strict one would make volumes unreadable for non-root
// container users) and ignores setgid; the group is set first because
// changing it may clear setgid.
func makeDir(dir string, mode os.FileMode, gid *int64) error {
	info, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(dir, mode.Perm()); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("inspect %s: %w", dir, err)
	case !info.IsDir():
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if err := chownGroup(dir, gid); err != nil {
		return err
	}
	return setMode(dir, mode)
}

// setMode chmods path unless it already has mode (permissions and setgid),
// so that calls on every sync change nothing on disk.
func setMode(path string, mode os.FileMode) error {
	info, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if modeOf(info) == mode {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("set mode of %s to %v: %w", path, mode, err)
	}
	return nil
}

// modeOf is the part of a file's mode this package manages.
func modeOf(info os.FileInfo) os.FileMode {
	return info.Mode() & (os.ModePerm | os.ModeSetgid)
}
