// Package initramfs assembles the newc cpio archive the kernel unpacks as
// the image's first root filesystem.
//
// The archive is reproducible: entries are sorted by path, every parent
// directory is present before its children, owners are root, mtimes are
// zero and inode numbers follow the sorted order, so the same files always
// give the same bytes.
package initramfs

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

type kind int

const (
	regular kind = iota
	directory
	symlink
)

type entry struct {
	kind   kind
	mode   os.FileMode // permission bits
	data   []byte      // file contents, or the symlink target
	source string      // where the data came from, for error messages
}

// Archive is an initramfs under construction. The zero value is not ready;
// use New.
type Archive struct {
	entries map[string]entry
}

// New returns an empty archive.
func New() *Archive {
	return &Archive{entries: map[string]entry{}}
}

func clean(p string) (string, error) {
	c := path.Clean("/" + p)
	if c == "/" {
		return "", fmt.Errorf("initramfs: %q is not a file path", p)
	}
	return strings.TrimPrefix(c, "/"), nil
}

func (a *Archive) put(p string, e entry) error {
	c, err := clean(p)
	if err != nil {
		return err
	}
	if old, ok := a.entries[c]; ok && (old.kind == directory) != (e.kind == directory) {
		return fmt.Errorf("initramfs: %s added both as a directory and as a file", c)
	}
	a.entries[c] = e
	return nil
}

// File adds a regular file.
func (a *Archive) File(p string, data []byte, perm os.FileMode) error {
	return a.put(p, entry{kind: regular, mode: perm.Perm(), data: data})
}

// Dir adds an (empty) directory.
func (a *Archive) Dir(p string, perm os.FileMode) error {
	return a.put(p, entry{kind: directory, mode: perm.Perm()})
}

// Symlink adds a symbolic link at p pointing to target.
func (a *Archive) Symlink(p, target string) error {
	return a.put(p, entry{kind: symlink, mode: 0o777, data: []byte(target)})
}

// CopyFile adds the host file (or symlink, kept as a link) src at p.
func (a *Archive) CopyFile(p, src string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		return a.Symlink(p, target)
	case fi.Mode().IsRegular():
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		return a.put(p, entry{kind: regular, mode: fi.Mode().Perm(), data: data, source: src})
	default:
		return fmt.Errorf("initramfs: %s: not a regular file or symlink", src)
	}
}

// CopyGlob adds every host file under root matching the slash-separated
// pattern (relative to root) at the same relative path. A pattern that
// matches nothing is an error: a pinned package that stops shipping a file
// must fail the build, not the boot.
func (a *Archive) CopyGlob(root, pattern string) error {
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
	if err != nil {
		return fmt.Errorf("initramfs: pattern %q: %w", pattern, err)
	}
	if len(matches) == 0 {
		return fmt.Errorf("initramfs: %q matches nothing in %s", pattern, root)
	}
	for _, m := range matches {
		rel, err := filepath.Rel(root, m)
		if err != nil {
			return err
		}
		if err := a.CopyFile(filepath.ToSlash(rel), m); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether p is in the archive.
func (a *Archive) Has(p string) bool {
	c, err := clean(p)
	if err != nil {
		return false
	}
	_, ok := a.entries[c]
	return ok
}

// Size is the total size of the file contents in the archive.
func (a *Archive) Size() int64 {
	var n int64
	for _, e := range a.entries {
		n += int64(len(e.data))
	}
	return n
}

// paths returns every path in the archive, implied parent directories
// included, sorted so that a directory precedes its contents.
func (a *Archive) paths() []string {
	seen := map[string]bool{}
	for p := range a.entries {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			seen[d] = true
		}
		seen[p] = true
	}
	ps := make([]string, 0, len(seen))
	for p := range seen {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// WriteTo writes the archive as newc cpio with a trailer.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	rw := cpio.Newc.Writer(cw)
	for i, p := range a.paths() {
		e, ok := a.entries[p]
		if !ok {
			e = entry{kind: directory, mode: 0o755}
		}
		rec := record(p, e)
		rec.Ino = uint64(i + 1)
		if err := rw.WriteRecord(cpio.MakeReproducible(rec)); err != nil {
			return cw.n, fmt.Errorf("initramfs: writing %s: %w", p, err)
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return cw.n, fmt.Errorf("initramfs: writing trailer: %w", err)
	}
	return cw.n, nil
}

func record(p string, e entry) cpio.Record {
	switch e.kind {
	case directory:
		r := cpio.Directory(p, uint64(e.mode))
		r.NLink = 2
		return r
	case symlink:
		r := cpio.Symlink(p, string(e.data))
		r.NLink = 1
		return r
	default:
		r := cpio.StaticRecord(e.data, cpio.Info{Name: p, Mode: cpio.S_IFREG | uint64(e.mode)})
		r.NLink = 1
		return r
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// Paths returns every path in the archive, implied parent directories
// included, sorted, without a leading slash.
func (a *Archive) Paths() []string { return a.paths() }

// Extract writes the archive's tree into dir (which must exist) as the
// kernel would unpack it: directories, files with their permission bits,
// symbolic links. Owners and times are left to whoever reads the tree
// (the root image's writer sets both).
func (a *Archive) Extract(dir string) error {
	for _, p := range a.paths() {
		e, ok := a.entries[p]
		if !ok {
			e = entry{kind: directory, mode: 0o755}
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		var err error
		switch e.kind {
		case directory:
			err = os.Mkdir(dst, e.mode)
		case symlink:
			err = os.Symlink(string(e.data), dst)
		default:
			err = os.WriteFile(dst, e.data, e.mode)
		}
		if err == nil && e.kind != symlink {
			err = os.Chmod(dst, e.mode) // not narrowed by the umask
		}
		if err != nil {
			return fmt.Errorf("initramfs: extracting %s: %w", p, err)
		}
	}
	return nil
}
