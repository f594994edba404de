package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
)

// emptyDir makes the volume's directory once and leaves its data alone
// afterwards, so it survives container restarts and edgecore restarts and
// goes only with Teardown, as in kubelet. src is nil for a volume without
// a source, which API defaulting would have made an emptyDir.
//
// medium: Memory is a tmpfs (memoryEmptyDir). On disk, sizeLimit is not a
// quota: as in kubelet, a pod whose emptyDir grows past it is evicted
// (edged checks the usage periodically, see DiskUsage).
func (s setup) emptyDir(name string, src *v1.EmptyDirVolumeSource) (Mount, error) {
	if src != nil {
		switch src.Medium {
		case v1.StorageMediumDefault:
		case v1.StorageMediumMemory:
			return s.memoryEmptyDir(name, src)
		default:
			return Mount{}, fmt.Errorf("emptyDir medium %q is not supported on this node", src.Medium)
		}
	}
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

// EmptyDirPath is where the disk-backed emptyDir name of the pod with uid
// keeps its data.
func (m Manager) EmptyDirPath(podUID, name string) string {
	return m.volumeDir(podUID, emptyDirPlugin, name)
}

func (m Manager) volumeDir(podUID, plugin, name string) string {
	return filepath.Join(m.PodDir(podUID), volumesDir, plugin, name)
}
