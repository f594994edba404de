package hostrt

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

const cgroupRoot = "/sys/fs/cgroup"

// CgroupParent is the cgroup every pod container gets its own under (edged
// names /edgegate/pod<uid>/<container>), and so does anything else these
// tests start.
const CgroupParent = "/edgegate"

// missingKernelParts says what the kernel lacks for containers, or "".
func missingKernelParts() string {
	if !hostctrd.HasOverlay() {
		return "the kernel has no overlay filesystem (containerd's snapshotter)"
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return "the kernel has no network namespaces"
	}
	if !memoryController() {
		return "no memory cgroup controller at " + cgroupRoot + " (neither cgroup2 with memory enabled nor a v1 memory hierarchy)"
	}
	return ""
}

// CgroupV2 reports whether the host's hierarchy is the unified one, as on
// a gateway (else v1, possibly with an empty cgroup2 beside it).
func CgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

func memoryController() bool {
	if CgroupV2() {
		data, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
		return err == nil && slices.Contains(strings.Fields(string(data)), "memory")
	}
	var st unix.Statfs_t
	return unix.Statfs(filepath.Join(cgroupRoot, "memory"), &st) == nil && st.Type == unix.CGROUP_SUPER_MAGIC
}

// CgroupDir is the directory of cgroup path (as in an OCI spec) in the
// hierarchy of controller on v1, or in the unified hierarchy on v2.
func CgroupDir(path, controller string) string {
	if CgroupV2() {
		return filepath.Join(cgroupRoot, path)
	}
	return filepath.Join(cgroupRoot, controller, path)
}

// removeCgroups removes the empty cgroups under CgroupParent in every
// hierarchy: runc removes a container's own when its task is deleted,
// not the pod's above it. A cgroup that still holds a process stays.
func removeCgroups() {
	tops, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", CgroupParent))
	tops = append(tops, filepath.Join(cgroupRoot, CgroupParent))
	for _, top := range tops {
		var dirs []string
		filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			unix.Rmdir(d)
		}
	}
}
