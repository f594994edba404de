package rootfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// etcStage is where the copy of the root's /etc is made before it is
// moved over the root's /etc.
const etcStage = "/etc.ram"

// SwitchRoot makes newRoot, a mounted root image, the root of the system,
// the way switch_root does: newRoot gets an /etc in RAM (a copy of the
// image's, so the configuration reads as built while what the system
// writes there, resolv.conf say, has somewhere to go), every file of the
// initramfs is deleted to give its memory back, newRoot is moved onto /
// and the process chroots into it. The caller then executes the new
// root's init. The initramfs's own mounts (/proc, /sys, /dev) must be
// gone by then: the new init mounts its own.
func SwitchRoot(newRoot string) error {
	if err := ramEtc(newRoot); err != nil {
		return err
	}
	if err := removeFilesystem("/", newRoot); err != nil {
		return fmt.Errorf("switch root: freeing the initramfs: %w", err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return fmt.Errorf("switch root: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("switch root: moving %s onto /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("switch root: chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("switch root: %w", err)
	}
	return nil
}

// ramEtc mounts a tmpfs holding a copy of newRoot/etc over it.
func ramEtc(newRoot string) error {
	if err := os.MkdirAll(etcStage, 0o755); err != nil {
		return fmt.Errorf("switch root: %w", err)
	}
	if err := unix.Mount("tmpfs", etcStage, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("switch root: tmpfs for /etc: %w", err)
	}
	etc := filepath.Join(newRoot, "etc")
	if err := copyTree(etc, etcStage); err != nil {
		return fmt.Errorf("switch root: copying /etc: %w", err)
	}
	if err := unix.Mount(etcStage, etc, "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("switch root: moving the tmpfs onto /etc: %w", err)
	}
	return nil
}

// copyTree copies the directories, files and symbolic links under src
// into dst (which exists), keeping permissions and modification times.
func copyTree(src, dst string) error {
	type dirTime struct {
		path string
		info fs.FileInfo
	}
	var dirs []dirTime // timed last: creating entries changes them
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err == nil {
				err = os.Symlink(target, to)
			}
			return err
		case d.IsDir():
			if rel != "." {
				if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirTime{to, info})
			return os.Chmod(to, info.Mode().Perm())
		case d.Type().IsRegular():
			if err := copyFile(p, to, info); err != nil {
				return err
			}
			return os.Chtimes(to, info.ModTime(), info.ModTime())
		default:
			return nil // no device nodes or sockets in an image's /etc
		}
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i].path, dirs[i].info.ModTime(), dirs[i].info.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, info fs.FileInfo) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, data, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Chmod(to, info.Mode().Perm())
}

// removeFilesystem deletes everything under top that is on top's
// filesystem, except keep, without descending into other filesystems.
func removeFilesystem(top, keep string) error {
	var st unix.Stat_t
	if err := unix.Lstat(top, &st); err != nil {
		return err
	}
	return removeContents(top, filepath.Clean(keep), st.Dev)
}

func removeContents(dir, keep string, dev uint64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == keep {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if uint64(st.Dev) != dev {
			continue // a mount point: not this filesystem's
		}
		if e.IsDir() {
			if err := removeContents(p, keep, dev); err != nil {
				return err
			}
		}
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}
