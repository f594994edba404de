package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// memoryEmptyDir makes an emptyDir with medium Memory: a tmpfs, mounted
// once under RunRoot and left mounted (and its data alone) until Teardown,
// as kubelet's setupTmpfs does. Its size is kubelet's: the node's
// allocatable memory, less when the pod's memory limit is lower, less
// again when the volume's sizeLimit is (memorySize). Without fsGroup the
// tmpfs keeps the kernel's root mode, 1777, as in kubelet; with one it
// gets the group and setgid like every writable volume.
//
// The mount is made in edgecore's mount namespace. containerd runs in its
// own, which receives it only because RunRoot is a shared mount point made
// before containerd started (edgegate's init makes /run/edgegate/pods so);
// mounted anywhere else, the container would bind-mount the empty
// directory underneath.
func (s setup) memoryEmptyDir(name string, src *v1.EmptyDirVolumeSource) (Mount, error) {
	dir, err := s.runVolumePath(emptyDirPlugin, name)
	if err != nil {
		return Mount{}, err
	}
	if err := makeDir(dir, 0o777, nil); err != nil {
		return Mount{}, err
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return Mount{}, err
	}
	if !mounted {
		var opts string
		if size := memorySize(s.pod, src, s.fields.Allocatable); size > 0 {
			opts = fmt.Sprintf("size=%d", size)
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
			return Mount{}, fmt.Errorf("mount tmpfs (%s) on %s: %w", opts, dir, err)
		}
	}
	if s.fsGroup != nil {
		if err := chownGroup(dir, s.fsGroup); err != nil {
			return Mount{}, err
		}
		if err := os.Chmod(dir, os.ModeSticky|dirMode(0o777, s.fsGroup, false)); err != nil {
			return Mount{}, fmt.Errorf("set mode of %s: %w", dir, err)
		}
	}
	return Mount{HostPath: dir}, nil
}

// runVolumePath returns RunRoot/<uid>/volumes/<plugin>/<name>, creating
// the directories above it.
func (s setup) runVolumePath(plugin, name string) (string, error) {
	if s.runDir == "" {
		return "", errors.New("a memory-backed volume needs a directory for in-memory mounts, and this node has none (volume.Manager.RunRoot)")
	}
	if !isPathElement(name) {
		return "", fmt.Errorf("volume name %q is not a single path element", name)
	}
	// RunRoot's own mode is whoever made it's (init's).
	if err := os.MkdirAll(filepath.Dir(s.runDir), podDirMode); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(s.runDir), err)
	}
	pluginDir := filepath.Join(s.runDir, volumesDir, plugin)
	for _, d := range []string{s.runDir, filepath.Join(s.runDir, volumesDir), pluginDir} {
		if err := makeDir(d, podDirMode, nil); err != nil {
			return "", err
		}
	}
	return filepath.Join(pluginDir, name), nil
}

// isMountPoint tells whether something is mounted on dir: its device
// differs from its parent's (a tmpfs, the only thing mounted here, has a
// device of its own).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, fmt.Errorf("inspect %s: %w", dir, err)
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, fmt.Errorf("inspect %s: %w", filepath.Dir(dir), err)
	}
	return st.Dev != parent.Dev, nil
}

// memorySize is kubelet's calculateEmptyDirMemorySize: the node's
// allocatable memory, the pod's memory limit when lower, the volume's
// sizeLimit when lower still; 0 (the kernel's default, half the RAM) when
// none is known. Unlike kubelet, an unknown allocatable does not make the
// pod's limit and sizeLimit count for nothing.
func memorySize(pod *v1.Pod, src *v1.EmptyDirVolumeSource, allocatable v1.ResourceList) int64 {
	size := allocatable.Memory().Value()
	lower := func(v int64) {
		if v > 0 && (size == 0 || v <= size) {
			size = v
		}
	}
	lower(podMemoryLimit(pod))
	if src.SizeLimit != nil {
		lower(src.SizeLimit.Value())
	}
	return size
}

// podMemoryLimit is the pod's memory limit as kubelet sets it on the pod's
// cgroup (ResourceConfigForPod): PodLimits' memory, with its overhead,
// when every container declares a memory limit, else 0 (none).
func podMemoryLimit(pod *v1.Pod) int64 {
	declared := true
	check := func(limits v1.ResourceList) {
		if limits.Memory().IsZero() {
			declared = false
		}
	}
	var sum resource.Quantity
	for i := range pod.Spec.Containers {
		limit := pod.Spec.Containers[i].Resources.Limits
		check(limit)
		sum.Add(*limit.Memory())
	}
	// Init containers run before the regular ones, one at a time beside
	// the sidecars started before them; sidecars run with everything.
	var sidecars, initMax resource.Quantity
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		limit := c.Resources.Limits.Memory().DeepCopy()
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum.Add(limit)
			sidecars.Add(limit)
			limit = sidecars.DeepCopy()
		} else {
			limit.Add(sidecars)
		}
		check(v1.ResourceList{v1.ResourceMemory: limit})
		if limit.Cmp(initMax) > 0 {
			initMax = limit
		}
	}
	if !declared {
		return 0
	}
	if initMax.Cmp(sum) > 0 {
		sum = initMax
	}
	if overhead, ok := pod.Spec.Overhead[v1.ResourceMemory]; ok && !sum.IsZero() {
		sum.Add(overhead)
	}
	return sum.Value()
}
