// Package atomicfile changes small files and directories so that a power
// cut leaves either the old state or the new one, never a torn mix. It is
// the one such package of the tree: init (last good config, saved clock,
// resolv.conf) and edgecore (certificates, machine ID, its configuration)
// both use it.
//
// The appliance has no orderly shutdown it can count on: a board can lose
// power at any instant. A file is written to a temporary file in the same
// directory, fsynced, renamed over the target, and the directory fsynced,
// so the rename itself is durable. Every name this package creates,
// renames or removes is made durable the same way, by fsyncing the
// directory that holds it.
//
// The package imports nothing but the standard library, so edgecore (which
// also runs on any Linux host) takes nothing of PID 1 with it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, creating it with perm.
// On error the previous content of path is untouched. The directory must
// exist (see MkdirAll).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("atomicfile: create temp for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	if err := writeAndSync(tmp, data, perm); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("atomicfile: rename into %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: sync dir of %s: %w", path, err)
	}
	return nil
}

func writeAndSync(f *os.File, data []byte, perm os.FileMode) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// MkdirAll creates dir and any missing parents with perm, and makes each
// new directory entry durable by fsyncing the directory that holds it.
// Existing directories are left as they are.
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("atomicfile: mkdir %s: %w", dir, fs.ErrExist)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("atomicfile: mkdir %s: %w", dir, err)
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("atomicfile: mkdir %s: %w", dir, err)
	}
	if err := SyncDir(parent); err != nil {
		return fmt.Errorf("atomicfile: sync dir of %s: %w", dir, err)
	}
	return nil
}

// Rename renames oldpath to newpath (a file, or a directory onto a name
// that is absent or an empty directory) and fsyncs the directories of
// both names, so after a power cut exactly one of them exists.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	newDir, oldDir := filepath.Dir(newpath), filepath.Dir(oldpath)
	if err := SyncDir(newDir); err != nil {
		return fmt.Errorf("atomicfile: sync dir of %s: %w", newpath, err)
	}
	if oldDir != newDir {
		if err := SyncDir(oldDir); err != nil {
			return fmt.Errorf("atomicfile: sync dir of %s: %w", oldpath, err)
		}
	}
	return nil
}

// Remove removes the file (or empty directory) at path and fsyncs its
// directory, so the removal survives a power cut. A path that does not
// exist is already removed: that is not an error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("atomicfile: sync dir of %s: %w", path, err)
	}
	return nil
}

// RemoveAll removes path and everything below it, then fsyncs the
// directory that held it. A path that does not exist is not an error.
func RemoveAll(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("atomicfile: sync dir of %s: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a directory: what was created, renamed or removed in it
// is then on disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
