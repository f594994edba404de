package datapart

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// salvage copies the files of the filesystem about to be recreated into
// SalvageDir/files, when it still mounts read-only and they fit in
// SalvageMax. It returns what became of them, for the console, and how
// many files were kept.
func (o Options) salvage() (string, int) {
	if o.SalvageDir == "" {
		return "its files are lost (no place to keep them)", 0
	}
	mnt := filepath.Join(o.SalvageDir, "mnt")
	files := filepath.Join(o.SalvageDir, "files")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return fmt.Sprintf("its files are lost: %v", err), 0
	}
	// noload: do not replay a journal on a filesystem we do not trust.
	if err := unix.Mount(o.Device, mnt, "ext4", unix.MS_RDONLY, "noload"); err != nil {
		return fmt.Sprintf("its files are lost: it does not mount read-only: %v", err), 0
	}
	defer unix.Unmount(mnt, 0)
	var total int64
	filepath.WalkDir(mnt, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if total > o.SalvageMax {
		return fmt.Sprintf("its files are lost: %d bytes do not fit in the %d set aside", total, o.SalvageMax), 0
	}
	n, err := copyTree(mnt, files)
	if err != nil {
		os.RemoveAll(files)
		return fmt.Sprintf("its files are lost: copying them aside: %v", err), 0
	}
	return fmt.Sprintf("%d files (%d bytes) kept aside for lost+found/previous", n, total), n
}

// restoreSalvage moves the salvaged files into lost+found/previous-<time>
// on the new filesystem.
func (o Options) restoreSalvage() error {
	mnt := filepath.Join(o.SalvageDir, "mnt")
	files := filepath.Join(o.SalvageDir, "files")
	defer os.RemoveAll(files)
	if err := mount(o.Device, mnt); err != nil {
		return err
	}
	defer unix.Unmount(mnt, 0)
	dst := filepath.Join(mnt, "lost+found", "previous-"+time.Now().UTC().Format("20060102T150405Z"))
	if _, err := copyTree(files, dst); err != nil {
		return err
	}
	unix.Sync()
	return nil
}

// copyTree copies regular files, directories and symlinks from src to
// dst; other kinds (devices, sockets) are skipped. Unreadable files of a
// damaged filesystem are skipped too: keeping most beats keeping none.
func copyTree(src, dst string) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				os.Symlink(target, to)
			}
		case d.Type().IsRegular():
			if copyFile(p, to) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
