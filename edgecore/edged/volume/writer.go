package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The writer uses kubelet's AtomicWriter layout, which containers and their
// config reloaders rely on:
//
//	<dir>/..2024_01_02_15_04_05.123456789/<files>   the content, never modified
//	<dir>/..data -> ..2024_01_02_15_04_05.123456789
//	<dir>/<top-level entry> -> ..data/<top-level entry>
//
// An update writes a complete new timestamped directory, points a fresh
// ..data_tmp symlink at it and renames that over ..data: rename is atomic, so
// a reader resolving any path through ..data sees all old or all new files,
// and inotify watchers of ..data see one event. Then the visible links of
// entries that disappeared and the old directory are removed.
//
// Nothing is fsynced: after a power loss a file may be truncated, but Setup
// compares content on every sync and rewrites it then.
const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
	tsLayout    = "..2006_01_02_15_04_05."
	// contentDirMode lets any container user search the content tree.
	contentDirMode os.FileMode = 0o755
)

// writeAtomic makes dir show exactly the files of p. It writes only when the
// content, modes or group differ from what ..data points at, and otherwise
// changes nothing on disk (apart from removing leftovers of an interrupted
// earlier write). gid is the pod's fsGroup, nil for none.
func writeAtomic(dir string, p payload, gid *int64) error {
	current, err := currentDataDir(dir)
	if err != nil {
		return err
	}
	if current == "" || !matches(filepath.Join(dir, current), p, gid) {
		if current, err = publish(dir, p, gid); err != nil {
			return err
		}
	}
	if err := linkVisible(dir, p, gid); err != nil {
		return err
	}
	return prune(dir, p, current)
}

// currentDataDir returns the name of the timestamped directory ..data points
// at, "" if there is none (or it is not one of ours: then it is replaced).
func currentDataDir(dir string) (string, error) {
	target, err := os.Readlink(filepath.Join(dir, dataLink))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(dir, dataLink), err)
	}
	if !isTimestampDir(target) {
		return "", nil
	}
	return target, nil
}

// isTimestampDir tells whether name is one of the writer's content
// directories (and not, say, a nested mount point called "..x").
func isTimestampDir(name string) bool {
	if len(name) <= len(tsLayout) || strings.Contains(name, "/") {
		return false
	}
	_, err := time.Parse(tsLayout, name[:len(tsLayout)])
	return err == nil
}

// matches tells whether tsDir holds exactly the files of p, with their
// content, mode and group. Anything unreadable counts as different: it is
// rewritten rather than trusted.
func matches(tsDir string, p payload, gid *int64) bool {
	seen := 0
	err := filepath.WalkDir(tsDir, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(tsDir, full)
		if err != nil {
			return err
		}
		want, ok := p[filepath.ToSlash(rel)]
		if !ok || !d.Type().IsRegular() || !sameFile(full, want, gid) {
			return errDiffers
		}
		seen++
		return nil
	})
	return err == nil && seen == len(p)
}

var errDiffers = errors.New("content differs")

func sameFile(full string, want file, gid *int64) bool {
	info, err := os.Lstat(full)
	if err != nil || modeOf(info) != fileMode(want.mode, gid, true) || !hasGroup(info, gid) || !hasOwner(info, want.uid) {
		return false
	}
	data, err := os.ReadFile(full)
	return err == nil && bytes.Equal(data, want.data)
}

// publish writes p into a new timestamped directory and switches ..data to
// it, returning its name. On failure the new directory is removed and ..data
// is untouched.
func publish(dir string, p payload, gid *int64) (name string, err error) {
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format(tsLayout))
	if err != nil {
		return "", fmt.Errorf("create content directory in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tsDir)
		}
	}()
	name = filepath.Base(tsDir)
	if err := chownGroup(tsDir, gid); err != nil {
		return "", err
	}
	if err := setMode(tsDir, dirMode(contentDirMode, gid, true)); err != nil {
		return "", err
	}
	for _, rel := range sortedPaths(p) {
		if err := writeFile(tsDir, rel, p[rel], gid); err != nil {
			return "", err
		}
	}
	tmp := filepath.Join(dir, newDataLink)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("remove leftover %s: %w", tmp, err)
	}
	if err := os.Symlink(name, tmp); err != nil {
		return "", fmt.Errorf("link %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("switch %s: %w", filepath.Join(dir, dataLink), err)
	}
	return name, nil
}

// writeFile writes one file of the payload under tsDir, creating its parent
// directories.
func writeFile(tsDir, rel string, f file, gid *int64) error {
	parent := tsDir
	if d := path.Dir(rel); d != "." {
		for _, elem := range strings.Split(d, "/") {
			parent = filepath.Join(parent, elem)
			if err := makeDir(parent, dirMode(contentDirMode, gid, true), gid); err != nil {
				return fmt.Errorf("item %s: %w", rel, err)
			}
		}
	}
	full := filepath.Join(tsDir, rel)
	if err := os.WriteFile(full, f.data, f.mode.Perm()); err != nil {
		return fmt.Errorf("item %s: %w", rel, err)
	}
	if err := chownGroup(full, gid); err != nil {
		return fmt.Errorf("item %s: %w", rel, err)
	}
	if err := chownUser(full, f.uid); err != nil {
		return fmt.Errorf("item %s: %w", rel, err)
	}
	// Explicitly, because WriteFile's mode is subject to the umask.
	if err := os.Chmod(full, fileMode(f.mode, gid, true)); err != nil {
		return fmt.Errorf("item %s: set mode: %w", rel, err)
	}
	return nil
}

// linkVisible creates the <entry> -> ..data/<entry> links for the top-level
// entries of p that have none. An existing entry of that name is left as it
// is, as kubelet does (it is usually a nested mount point, which the
// container mount covers anyway).
func linkVisible(dir string, p payload, gid *int64) error {
	for _, name := range topLevel(p) {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("inspect %s: %w", link, err)
		}
		if err := os.Symlink(path.Join(dataLink, name), link); err != nil {
			return fmt.Errorf("link %s: %w", link, err)
		}
		if err := chownGroup(link, gid); err != nil {
			return err
		}
	}
	return nil
}

// prune removes what is neither current content nor a visible link of it:
// older timestamped directories, a ..data_tmp left by an interrupted switch,
// and links into ..data for entries that p no longer has. Nested mount point directories and anything else are kept.
func prune(dir string, p payload, current string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	keep := make(map[string]bool)
	for _, name := range topLevel(p) {
		keep[name] = true
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		full := filepath.Join(dir, name)
		switch {
		case name == dataLink || name == current || keep[name]:
		case isTimestampDir(name) || name == newDataLink:
			if err := os.RemoveAll(full); err != nil {
				errs = append(errs, fmt.Errorf("remove old content %s: %w", full, err))
			}
		case e.Type()&os.ModeSymlink != 0:
			if target, err := os.Readlink(full); err == nil && target == path.Join(dataLink, name) {
				if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("remove stale %s: %w", full, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// topLevel returns the first elements of p's paths, sorted and distinct.
func topLevel(p payload) []string {
	set := make(map[string]bool)
	for rel := range p {
		first, _, _ := strings.Cut(rel, "/")
		set[first] = true
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func sortedPaths(p payload) []string {
	paths := make([]string, 0, len(p))
	for rel := range p {
		paths = append(paths, rel)
	}
	sort.Strings(paths)
	return paths
}
