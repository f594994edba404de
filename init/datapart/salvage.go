package datapart

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// recreate makes a new filesystem in place of one e2fsck -f -y could not
// repair. Before the old one goes, e2fsck's report and the files that can
// still be read are gathered in RAM, and mke2fs puts them into the new
// one, so the reason and what could be kept survive on the partition.
func (o Options) recreate(size int64, res *Result, runs []fsckRun) error {
	why := runs[len(runs)-1].describe()
	kept := path.Join("lib/edgegate", "recreated-"+time.Now().UTC().Format("20060102T150405Z"))
	st, err := o.newStage()
	if err == nil {
		defer st.close()
		err = st.keep(kept, report(o.Device, runs))
	}
	if err != nil {
		o.Say("data: RECREATING the filesystem on %s: %s; nothing can be kept (%v)", o.Device, why, err)
		return o.formatRecreated(size, res, "", "")
	}
	files, n := o.salvage(filepath.Join(st.root, kept, "files"), st.mnt)
	res.Salvaged = n
	o.Say("data: RECREATING the filesystem on %s: %s; kept in %s: e2fsck's report, %s", o.Device, why, path.Join("/", o.Target, kept), files)
	return o.formatRecreated(size, res, st.root, kept)
}

// formatRecreated formats with the staged tree and, should mke2fs fail on
// it, without: a new filesystem matters more than what it would hold.
func (o Options) formatRecreated(size int64, res *Result, root, kept string) error {
	err := o.format(size, res, "recreating", root)
	if err != nil && root != "" {
		o.Say("data: formatting with the kept files failed: %v; formatting without them", err)
		res.Salvaged, kept = 0, ""
		err = o.format(size, res, "recreating, keeping nothing", "")
	}
	if err != nil {
		return err
	}
	res.Recreated, res.Kept = true, kept
	return nil
}

// stage is where a recreated filesystem's content is gathered: root is
// the tree mke2fs copies in, mnt where the old filesystem is mounted to
// salvage from.
type stage struct {
	dir, root, mnt string
	temporary      bool
}

func (o Options) newStage() (*stage, error) {
	st := &stage{dir: o.StageDir}
	if st.dir == "" {
		d, err := os.MkdirTemp("", "datapart-stage-")
		if err != nil {
			return nil, fmt.Errorf("staging area: %w", err)
		}
		st.dir, st.temporary = d, true
	}
	st.root, st.mnt = filepath.Join(st.dir, "root"), filepath.Join(st.dir, "mnt")
	// A root left by an earlier try would bring its files along.
	if err := os.RemoveAll(st.root); err != nil {
		return nil, fmt.Errorf("staging area: %w", err)
	}
	for _, d := range []string{st.root, st.mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("staging area: %w", err)
		}
	}
	// mke2fs gives the new root the mode of the staged one.
	if err := os.Chmod(st.root, 0o755); err != nil {
		return nil, fmt.Errorf("staging area: %w", err)
	}
	return st, nil
}

// keep writes e2fsck's report into the staged tree at dir/e2fsck.log.
func (st *stage) keep(dir, report string) error {
	full := filepath.Join(st.root, dir)
	if err := os.MkdirAll(full, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(full, "e2fsck.log"), []byte(report), 0o644)
}

func (st *stage) close() {
	os.RemoveAll(st.root)
	if st.temporary {
		os.RemoveAll(st.dir)
	}
}

// salvage copies the files of the filesystem about to be made again into
// dst, when it still mounts read-only (at mnt) and they fit in
// SalvageMax. It returns what became of them, for the console, and how
// many files were kept.
func (o Options) salvage(dst, mnt string) (string, int) {
	if o.SalvageMax <= 0 {
		return "no files (no room set aside for them)", 0
	}
	// noload: do not replay a journal on a filesystem we do not trust.
	if err := unix.Mount(o.Device, mnt, "ext4", unix.MS_RDONLY, "noload"); err != nil {
		return fmt.Sprintf("no files (the old filesystem does not mount read-only: %v)", err), 0
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
		return fmt.Sprintf("no files (their %d bytes do not fit in the %d set aside)", total, o.SalvageMax), 0
	}
	n, err := copyTree(mnt, dst)
	if err != nil {
		os.RemoveAll(dst)
		return fmt.Sprintf("no files (copying them aside: %v)", err), 0
	}
	return fmt.Sprintf("%d files (%d bytes) in files/", n, total), n
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
