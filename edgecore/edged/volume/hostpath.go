package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// hostPath checks the path against its type as kubelet does and returns the
// path itself: the container bind-mounts the host's file, nothing is copied.
// It is writable unless the volumeMount says otherwise.
//
// Beyond kubelet, the path must be absolute: kubelet would resolve a relative
// one against its own working directory, which means nothing here.
func hostPath(src *v1.HostPathVolumeSource) (Mount, error) {
	p := src.Path
	if !filepath.IsAbs(p) {
		return Mount{}, fmt.Errorf("hostPath %q is not an absolute path", p)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return Mount{}, fmt.Errorf("hostPath %q must not contain '..'", p)
		}
	}
	t := v1.HostPathUnset
	if src.Type != nil {
		t = *src.Type
	}
	if err := checkHostPathType(p, t); err != nil {
		return Mount{}, err
	}
	return Mount{HostPath: p}, nil
}

// checkHostPathType is kubelet's type check: the *OrCreate types create a
// missing directory (with parents) or an empty file (without parents), then
// every type requires the path to be of that kind. Symlinks are followed.
func checkHostPathType(p string, t v1.HostPathType) error {
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if !exists(p) {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: create directory: %w", p, err)
			}
			return nil
		}
		return requireKind(p, kindDir)
	case v1.HostPathDirectory:
		return requireKind(p, kindDir)
	case v1.HostPathFileOrCreate:
		if !exists(p) {
			return createFile(p)
		}
		return requireKind(p, kindFile)
	case v1.HostPathFile:
		return requireKind(p, kindFile)
	case v1.HostPathSocket:
		return requireKind(p, kindSocket)
	case v1.HostPathCharDev:
		return requireKind(p, kindCharDev)
	case v1.HostPathBlockDev:
		return requireKind(p, kindBlockDev)
	}
	return fmt.Errorf("hostPath %s: type %q is not a valid hostPath type", p, t)
}

// fileKind is what checkHostPathType can require a path to be.
type fileKind string

const (
	kindDir      fileKind = "a directory"
	kindFile     fileKind = "a file"
	kindSocket   fileKind = "a socket file"
	kindCharDev  fileKind = "a character device"
	kindBlockDev fileKind = "a block device"
)

func requireKind(p string, want fileKind) error {
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s is not %s: %w", p, want, err)
	}
	if kindOf(info.Mode()) != want {
		return fmt.Errorf("hostPath type check failed: %s is not %s", p, want)
	}
	return nil
}

func kindOf(m os.FileMode) fileKind {
	switch {
	case m.IsDir():
		return kindDir
	case m.IsRegular():
		return kindFile
	case m&os.ModeSocket != 0:
		return kindSocket
	case m&os.ModeCharDevice != 0:
		return kindCharDev
	case m&os.ModeDevice != 0:
		return kindBlockDev
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// createFile creates an empty file; its parent directory must exist, as in
// kubelet. Something created there meanwhile is accepted as kubelet does;
// O_EXCL keeps the open from blocking should that be a FIFO.
func createFile(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("hostPath %s: create file: %w", p, err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("hostPath %s: create file: %w", p, err)
		}
	}
	return nil
}
