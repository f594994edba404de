package volume

import (
	"errors"
	"fmt"
	"os"
)

// emptyDir makes the volume's directory once and leaves its data alone
// afterwards, so it survives container restarts and edgecore restarts and
// goes only with Teardown, as in kubelet.
//
// medium: Memory is a directory on disk too: kubelet mounts a tmpfs there, but
// containerd runs in a mount namespace of its own that does not receive the
// mounts edgecore makes, so the container would bind-mount the empty disk
// directory under the tmpfs and the two would silently diverge. sizeLimit is
// not enforced either (kubelet enforces it by evicting the pod; this node
// has no eviction manager).
func (s setup) emptyDir(name string) (Mount, error) {
	dir, err := s.volumePath(emptyDirPlugin, name)
	if err != nil {
		return Mount{}, err
	}
	info, err := os.Lstat(dir)
	switch {
	case err == nil && info.IsDir():
		// Existing data (and the modes containers gave it) stay as they are.
		return Mount{HostPath: dir}, nil
	case err == nil:
		return Mount{}, fmt.Errorf("%s exists and is not a directory", dir)
	case !errors.Is(err, os.ErrNotExist):
		return Mount{}, fmt.Errorf("inspect %s: %w", dir, err)
	}
	// 0777 as in kubelet: any container user may write, the volume being
	// private to the pod.
	if err := makeDir(dir, dirMode(0o777, s.fsGroup, false), s.fsGroup); err != nil {
		return Mount{}, err
	}
	return Mount{HostPath: dir}, nil
}
