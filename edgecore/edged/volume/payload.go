package volume

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
)

// file is one file of a content volume.
type file struct {
	data []byte
	mode os.FileMode // as the pod asks; fsGroup adds group bits when written
	uid  *int64      // the owner, nil: the writer's (root)
}

// payload is a content volume's files by cleaned relative path.
type payload map[string]file

// Limits of a payload path, kubelet's (and most filesystems').
const (
	maxFileNameLength = 255
	maxPathLength     = 4096
)

// add adds f under p after checking that p stays inside the volume and does
// not use the names the writer reserves for itself (those starting with
// ".."). A later file with the same cleaned path replaces an earlier one, as
// in kubelet (projected sources are merged in order).
func (pl payload) add(p string, f file) error {
	if err := validPath(p); err != nil {
		return err
	}
	pl[path.Clean(p)] = f
	return nil
}

// merge adds every file of other, replacing same paths.
func (pl payload) merge(other payload) {
	for p, f := range other {
		pl[p] = f
	}
}

// validPath applies kubelet's AtomicWriter rules to an item path: relative,
// no ".." element, not starting with "..", element and path lengths bounded;
// and, beyond kubelet, not naming the volume directory itself.
func validPath(p string) error {
	switch {
	case p == "":
		return errors.New("path must not be empty")
	case path.IsAbs(p):
		return fmt.Errorf("path %q must be relative", p)
	case len(p) > maxPathLength:
		return fmt.Errorf("path %q is longer than %d characters", p, maxPathLength)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	elems := strings.Split(p, "/")
	for _, e := range elems {
		if e == ".." {
			return fmt.Errorf("path %q must not contain '..'", p)
		}
		if len(e) > maxFileNameLength {
			return fmt.Errorf("path %q has an element longer than %d characters", p, maxFileNameLength)
		}
	}
	if strings.HasPrefix(elems[0], "..") {
		return fmt.Errorf("path %q must not start with '..'", p)
	}
	if path.Clean(p) == "." {
		return fmt.Errorf("path %q names the volume itself", p)
	}
	return nil
}

// modeOrDefault converts an API file mode (item mode, else the volume's
// defaultMode, else 0644 as API defaulting would have set) and checks its
// range as API validation does.
func modeOrDefault(item, volumeDefault *int32) (os.FileMode, error) {
	m := int32(0o644)
	switch {
	case item != nil:
		m = *item
	case volumeDefault != nil:
		m = *volumeDefault
	}
	if m < 0 || m > 0o777 {
		return 0, fmt.Errorf("file mode %#o is not within 0 and 0777", m)
	}
	return os.FileMode(m), nil
}
