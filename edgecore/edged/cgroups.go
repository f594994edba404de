package edged

import (
	"context"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the node's cgroup hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupV2 reports whether the hierarchy at root is the unified one, as on
// every gateway. Some hosts edgecore also runs on (development VMs, CI)
// still have v1 controllers there.
func cgroupV2(root string) bool {
	var st unix.Statfs_t
	return unix.Statfs(root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// withoutUnified drops the cgroup2-only settings of a container's spec for
// a v1 hierarchy, where runc refuses any ("cannot use unified on cgroup
// v1"). edged sets one, memory.oom.group; on v1 the kernel's OOM killer
// then kills the one process it picks, as it does under a kubelet on v1.
// The cpu and memory limits are v1 settings too and stay.
func withoutUnified(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Linux != nil && s.Linux.Resources != nil {
		s.Linux.Resources.Unified = nil
	}
	return nil
}
