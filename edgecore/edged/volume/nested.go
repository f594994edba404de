package volume

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// makeNestedMountpoints creates, in a read-only volume's directory, the
// directories where a container mounts other volumes beneath this one (volume
// A at /etc/app, volume B at /etc/app/data: A needs a "data" directory). The
// runtime cannot create them itself once A is bind-mounted read-only, which is
// why kubelet makes them (MakeNestedMountpoints) and this package does too.
func makeNestedMountpoints(pod *v1.Pod, volName, dir string, gid *int64) error {
	rels, err := nestedMountpoints(pod, volName)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		parent := dir
		for _, elem := range strings.Split(rel, "/") {
			parent = filepath.Join(parent, elem)
			if err := makeDir(parent, dirMode(contentDirMode, gid, true), gid); err != nil {
				return fmt.Errorf("nested mount point %s: %w", rel, err)
			}
		}
	}
	return nil
}

// nestedMountpoints returns, relative to the volume, the mount points of
// other volumes directly beneath where some container mounts volName (a
// mount point beneath another nested one is that one's business).
func nestedMountpoints(pod *v1.Pod, volName string) ([]string, error) {
	seen := make(map[string]bool)
	for _, mounts := range containerMounts(pod) {
		var all, mine []string
		for _, m := range mounts {
			p := filepath.Clean(m.MountPath)
			all = append(all, p)
			if m.Name == volName {
				mine = append(mine, p)
			}
		}
		sort.Strings(all)
		for _, base := range mine {
			if strings.HasPrefix(base, "../") {
				// Do not let a container make us create directories
				// outside the volume.
				return nil, fmt.Errorf("invalid container mount point %s", base)
			}
			for _, rel := range directlyBeneath(base, all) {
				seen[rel] = true
			}
		}
	}
	rels := make([]string, 0, len(seen))
	for rel := range seen {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	return rels, nil
}

// directlyBeneath returns the paths of sorted that are under base, relative
// to it, leaving out those under another path already returned.
func directlyBeneath(base string, sorted []string) []string {
	prefix := base + "/"
	var rels, taken []string
	for _, p := range sorted {
		if !strings.HasPrefix(p, prefix) || hasAnyPrefix(p, taken) {
			continue
		}
		taken = append(taken, p+"/")
		rels = append(rels, p[len(prefix):])
	}
	return rels
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// containerMounts returns the volume mounts of each init, regular and
// ephemeral container.
func containerMounts(pod *v1.Pod) [][]v1.VolumeMount {
	var out [][]v1.VolumeMount
	for i := range pod.Spec.InitContainers {
		out = append(out, pod.Spec.InitContainers[i].VolumeMounts)
	}
	for i := range pod.Spec.Containers {
		out = append(out, pod.Spec.Containers[i].VolumeMounts)
	}
	for i := range pod.Spec.EphemeralContainers {
		out = append(out, pod.Spec.EphemeralContainers[i].VolumeMounts)
	}
	return out
}
