package podspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	v1 "k8s.io/api/core/v1"
)

// subPath returns the volume mount's subPath, or its subPathExpr expanded
// against env (every variable it names must be set and non-empty, as in
// kubelet); it must be relative and must not climb with "..".
func subPath(container, field string, vm v1.VolumeMount, env []string) (string, error) {
	sub := vm.SubPath
	field += ".subPath"
	if vm.SubPathExpr != "" {
		field += "Expr"
		var missing []string
		lookup := envLookup(env)
		sub = expand(vm.SubPathExpr, func(name string) (string, bool) {
			v, ok := lookup(name)
			if !ok || v == "" {
				missing = append(missing, name)
			}
			return v, true
		})
		if len(missing) > 0 {
			slices.Sort(missing)
			return "", configError(container, field, "missing value for %s", strings.Join(slices.Compact(missing), ", "))
		}
	}
	if sub == "" {
		return "", nil
	}
	if filepath.IsAbs(sub) {
		return "", configError(container, field, "%q must not be an absolute path", sub)
	}
	if slices.Contains(strings.Split(sub, "/"), "..") {
		return "", configError(container, field, "%q must not contain '..'", sub)
	}
	return sub, nil
}

// prepareSubPath returns the host path to bind for subPath sub of the volume
// at volume, creating it as a directory when it does not exist (kubelet does
// so, with the volume's mode, so that the runtime does not create it with
// the wrong one). It is resolved through os.Root, which refuses symlinks
// that leave the volume: such a subPath is a *ConfigError. The returned path
// has its symlinks resolved, so that the bind cannot be redirected by
// changing a link later.
//
// kubelet goes further and bind-mounts the resolved subpath until the
// container has started, closing the window in which a container writing to
// the volume could swap a directory for a symlink; edged does not.
func prepareSubPath(container, field, volume, sub string) (string, error) {
	base, err := filepath.EvalSymlinks(volume)
	if err != nil {
		return "", fmt.Errorf("container %q: %s: volume path: %w", container, field, err)
	}
	info, err := os.Stat(base)
	if err != nil {
		return "", fmt.Errorf("container %q: %s: volume path: %w", container, field, err)
	}
	root, err := os.OpenRoot(base)
	if err != nil {
		return "", fmt.Errorf("container %q: %s: volume path: %w", container, field, err)
	}
	defer root.Close()

	if err := ensureDir(root, sub, info.Mode().Perm()); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return "", fmt.Errorf("container %q: %s: create %q in the volume: %w", container, field, sub, err)
		}
		// Not a system call's failure: os.Root refused the path.
		return "", &ConfigError{Container: container, Field: field, Detail: fmt.Sprintf("%q cannot be used inside the volume", sub), Err: err}
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(base, sub))
	if err != nil {
		return "", fmt.Errorf("container %q: %s: %w", container, field, err)
	}
	if resolved != base && !strings.HasPrefix(resolved, base+string(filepath.Separator)) {
		return "", configError(container, field, "%q leaves the volume", sub)
	}
	return resolved, nil
}

// ensureDir creates the missing directories of sub under root with perm
// (and not the umask's idea of it), leaving whatever exists alone.
func ensureDir(root *os.Root, sub string, perm fs.FileMode) error {
	if _, err := root.Stat(sub); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parts := strings.Split(filepath.Clean(sub), string(filepath.Separator))
	for i := range parts {
		dir := filepath.Join(parts[:i+1]...)
		err := root.Mkdir(dir, perm)
		switch {
		case err == nil:
			if err := root.Chmod(dir, perm); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrExist):
			return err
		}
	}
	return nil
}
