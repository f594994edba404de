package containerlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PodDir is the pod's log directory, named as kubelet names it
// (BuildPodLogsDirectory): <root>/<namespace>_<name>_<uid>.
func PodDir(root, namespace, name, uid string) string {
	return filepath.Join(root, namespace+"_"+name+"_"+uid)
}

// Path is the log file of one run of a container, named as kubelet names it:
// <PodDir>/<container>/<restart>.log.
func Path(root, namespace, name, uid, container string, restart int) string {
	return filepath.Join(PodDir(root, namespace, name, uid), container, strconv.Itoa(restart)+".log")
}

// RemovePod deletes a pod's log directory and everything in it. It refuses a
// relative root and names that would reach outside root, because the names
// come from the API server and an error here must not cost other data. A
// missing directory is not an error.
func RemovePod(root, namespace, name, uid string) error {
	if !filepath.IsAbs(root) {
		return fmt.Errorf("remove logs of pod %s/%s: log root %q is not an absolute path", namespace, name, root)
	}
	for _, c := range []struct{ kind, v string }{{"namespace", namespace}, {"name", name}, {"uid", uid}} {
		if err := checkComponent(c.v); err != nil {
			return fmt.Errorf("remove logs of pod %s/%s: %s: %w", namespace, name, c.kind, err)
		}
	}
	dir := PodDir(root, namespace, name, uid)
	if filepath.Dir(dir) != filepath.Clean(root) {
		return fmt.Errorf("remove logs of pod %s/%s: %q is not directly under %q", namespace, name, dir, root)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove logs of pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// RemoveLog deletes a container log file and its rotated files, as kubelet
// does when it garbage-collects a dead container. Missing files are not an
// error. The caller must have closed the file's Writer.
func RemoveLog(path string) error {
	rotated, err := listRotated(path)
	if err != nil {
		return fmt.Errorf("remove log %s: %w", path, err)
	}
	for _, p := range append(rotated, path) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove log %s: %w", path, err)
		}
	}
	return nil
}

// checkComponent rejects what must not become part of a directory name.
// Kubernetes names cannot contain these, so this only fires on a caller bug or
// a hostile object.
func checkComponent(v string) error {
	switch {
	case v == "":
		return errors.New("empty")
	case strings.ContainsRune(v, filepath.Separator) || strings.ContainsRune(v, 0):
		return fmt.Errorf("%q contains a path separator or NUL", v)
	}
	return nil
}

// rotationLayout is kubelet's timestamp suffix for rotated files.
const rotationLayout = "20060102-150405"

// rotatedFile is one rotated file of a log, with its sort key.
type rotatedFile struct {
	path  string
	stamp string // the rotationLayout suffix
	seq   int    // 0, or n for the n-th rotation within the same second
}

// parseRotated reports whether name is a rotated file of base and, if so,
// its sort key. Accepted names are <base>.<stamp> (kubelet's) and
// <base>.<stamp>.<n>: the Writer enforces the cap exactly rather than every
// 10 s, so with small files it can rotate twice within one second, and
// overwriting the earlier file would lose it silently. Anything else, such as
// kubelet's .gz and .tmp files, is not ours and is left alone.
func parseRotated(base, name string) (stamp string, seq int, ok bool) {
	rest, found := strings.CutPrefix(name, base+".")
	if !found || len(rest) < len(rotationLayout) {
		return "", 0, false
	}
	stamp, rest = rest[:len(rotationLayout)], rest[len(rotationLayout):]
	if !isStamp(stamp) {
		return "", 0, false
	}
	if rest == "" {
		return stamp, 0, true
	}
	digits, found := strings.CutPrefix(rest, ".")
	if !found || digits == "" || strings.TrimLeft(digits, "0123456789") != "" || digits[0] == '0' {
		return "", 0, false
	}
	seq, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return stamp, seq, true
}

// isStamp checks the shape of a rotationLayout timestamp without
// allocating: eight digits, a dash, six digits.
func isStamp(s string) bool {
	for i := 0; i < len(s); i++ {
		if i == 8 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) == len(rotationLayout)
}

// listRotated returns the rotated files of path, oldest first.
func listRotated(path string) ([]string, error) {
	files, err := rotatedFiles(path)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	return paths, nil
}

// rotatedFiles returns the rotated files of path with their sort keys,
// oldest first.
func rotatedFiles(path string) ([]rotatedFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rotated files of %s: %w", path, err)
	}
	var files []rotatedFile
	for _, e := range entries {
		if stamp, seq, ok := parseRotated(base, e.Name()); ok && e.Type().IsRegular() {
			files = append(files, rotatedFile{path: filepath.Join(dir, e.Name()), stamp: stamp, seq: seq})
		}
	}
	sortRotated(files)
	return files, nil
}

// nextRotated names the next rotated file of path: <path>.<stamp> as kubelet
// does, or <path>.<stamp>.<n> when files of that second exist. It never
// names a file that sorts before an existing one, even when the clock has
// stepped back (a gateway without a battery-backed clock before NTP sync),
// because pruning must remove the oldest output, not the newest.
func nextRotated(path string, existing []rotatedFile, now time.Time) string {
	stamp := now.Format(rotationLayout)
	if len(existing) == 0 {
		return path + "." + stamp
	}
	newest := existing[len(existing)-1]
	if newest.stamp < stamp {
		return path + "." + stamp
	}
	return path + "." + newest.stamp + "." + strconv.Itoa(newest.seq+1)
}

// sortRotated orders files oldest first: by timestamp, then by sequence
// (which, unlike the name, sorts .10 after .9).
func sortRotated(files []rotatedFile) {
	slices.SortFunc(files, func(a, b rotatedFile) int {
		if c := strings.Compare(a.stamp, b.stamp); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
}
