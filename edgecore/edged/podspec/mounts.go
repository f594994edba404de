package podspec

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

const (
	etcHosts              = "/etc/hosts"
	etcResolvConf         = "/etc/resolv.conf"
	devShm                = "/dev/shm"
	defaultTerminationLog = "/dev/termination-log"
	cgroupRoot            = "/sys/fs/cgroup"
)

// mountOpts builds the container's mounts: its volumeMounts, then the files
// edged provides (/etc/hosts, the termination log, /etc/resolv.conf and
// /dev/shm: the pod's, or the host's for hostIPC), and returns the option
// that puts them over the default spec's mounts. Subpaths are created on
// the host here, as kubelet does before it creates the container.
func mountOpts(in Input, privileged bool) (oci.SpecOpts, error) {
	binds, propagation, err := volumeMounts(in, privileged)
	if err != nil {
		return nil, err
	}
	binds = append(binds, fileMounts(in, binds)...)
	// Parents before children, so that a mount at /a does not hide one at
	// /a/b; the order is otherwise kept (the CRI plugin's rule).
	slices.SortStableFunc(binds, func(a, b specs.Mount) int { return depth(a.Destination) - depth(b.Destination) })
	return withMounts(binds, propagation), nil
}

// volumeMounts returns the bind mounts of the container's volumeMounts and
// the rootfs propagation they need ("" for private).
func volumeMounts(in Input, privileged bool) ([]specs.Mount, string, error) {
	c := in.Container
	var (
		binds       []specs.Mount
		propagation string
	)
	for i, vm := range c.VolumeMounts {
		field := fmt.Sprintf("volumeMounts[%d]", i)
		vol, ok := in.Volumes[vm.Name]
		if !ok {
			return nil, "", configError(c.Name, field+".name", "cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		src := vol.HostPath
		sub, err := subPath(c.Name, field, vm, in.Env)
		if err != nil {
			return nil, "", err
		}
		if sub != "" {
			if src, err = prepareSubPath(c.Name, field+".subPath", vol.HostPath, sub); err != nil {
				return nil, "", err
			}
		}
		options, prop, err := bindOptions(c.Name, field, vm, vol.ReadOnly, privileged)
		if err != nil {
			return nil, "", err
		}
		if prop == "rshared" || (prop == "rslave" && propagation == "") {
			propagation = prop
		}
		dst := vm.MountPath
		if !path.IsAbs(dst) {
			dst = "/" + dst
		}
		binds = append(binds, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: options})
	}
	return binds, propagation, nil
}

// bindOptions returns a volume mount's options and its propagation:
// rprivate by default, rslave for HostToContainer, rshared for Bidirectional,
// which the API allows for privileged containers only. readOnly (the
// mount's, or the volume's own, as for configmaps and secrets) makes the bind
// "ro", and recursiveReadOnly Enabled makes it "rro" (IfPossible stays "ro":
// edged cannot tell whether the runtime supports it).
func bindOptions(container, field string, vm v1.VolumeMount, volumeReadOnly, privileged bool) ([]string, string, error) {
	prop := "rprivate"
	if vm.MountPropagation != nil {
		switch *vm.MountPropagation {
		case v1.MountPropagationNone:
		case v1.MountPropagationHostToContainer:
			prop = "rslave"
		case v1.MountPropagationBidirectional:
			if !privileged {
				return nil, "", configError(container, field+".mountPropagation", "Bidirectional mount propagation is available only to privileged containers")
			}
			prop = "rshared"
		default:
			return nil, "", configError(container, field+".mountPropagation", "unknown mode %q", *vm.MountPropagation)
		}
	}
	mode := "rw"
	if vm.ReadOnly || volumeReadOnly {
		mode = "ro"
	}
	if vm.RecursiveReadOnly != nil && *vm.RecursiveReadOnly == v1.RecursiveReadOnlyEnabled {
		if !vm.ReadOnly || prop != "rprivate" {
			return nil, "", configError(container, field+".recursiveReadOnly", "Enabled needs readOnly and no mount propagation")
		}
		mode = "rro"
	}
	return []string{"rbind", prop, mode}, prop, nil
}

// fileMounts returns the mounts of the files edged provides, read-only but
// for the termination log: a volume mounted at /etc/hosts, /etc/resolv.conf
// or /dev/shm replaces the file, as in kubelet and containerd.
func fileMounts(in Input, volumes []specs.Mount) []specs.Mount {
	taken := func(dst string) bool {
		return slices.ContainsFunc(volumes, func(m specs.Mount) bool { return path.Clean(m.Destination) == dst })
	}
	bind := func(dst, src, mode string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", mode}}
	}
	var out []specs.Mount
	if in.EtcHosts != "" && !taken(etcHosts) {
		out = append(out, bind(etcHosts, in.EtcHosts, "ro"))
	}
	if in.TerminationLog != "" {
		dst := in.Container.TerminationMessagePath
		if dst == "" {
			dst = defaultTerminationLog
		}
		out = append(out, bind(dst, in.TerminationLog, "rw"))
	}
	if in.ResolvConf != "" && !taken(etcResolvConf) {
		out = append(out, bind(etcResolvConf, in.ResolvConf, "ro"))
	}
	switch {
	case taken(devShm):
	case in.Pod.Spec.HostIPC:
		out = append(out, bind(devShm, devShm, "rw"))
	case in.Shm != "":
		// containerd CRI's sandbox shm, shared by the pod's containers.
		out = append(out, bind(devShm, in.Shm, "rw"))
	}
	return out
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// withMounts replaces the default spec's mounts the way containerd's CRI
// plugin does: /run is no tmpfs (the image's /run shows), the cgroup
// filesystem is mounted read-only at /sys/fs/cgroup, a default mount is
// dropped when binds has one at the same place (and everything under /dev
// when binds has /dev), and binds come last.
func withMounts(binds []specs.Mount, propagation string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		defaults := append(slices.Clone(s.Mounts), cgroupMount(s.Linux.Namespaces))
		taken := map[string]bool{}
		for _, b := range binds {
			taken[path.Clean(b.Destination)] = true
		}
		mounts := make([]specs.Mount, 0, len(defaults)+len(binds))
		for _, m := range defaults {
			dst := path.Clean(m.Destination)
			if dst == "/run" || taken[dst] || (taken["/dev"] && strings.HasPrefix(dst, "/dev/")) {
				continue
			}
			mounts = append(mounts, m)
		}
		s.Mounts = append(mounts, binds...)
		if propagation != "" {
			s.Linux.RootfsPropagation = propagation
		}
		return nil
	}
}

// cgroupMount is the cgroup2 mount at /sys/fs/cgroup. A container in the
// host's cgroup namespace shares the host's cgroup2 superblock, and mounting
// it with other options would change them for the host: the host's
// nsdelegate and memory_recursiveprot are kept, as containerd does.
func cgroupMount(namespaces []specs.LinuxNamespace) specs.Mount {
	options := []string{"nosuid", "noexec", "nodev", "relatime", "ro"}
	ownNS := slices.ContainsFunc(namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.CgroupNamespace })
	if !ownNS {
		if info, err := mount.Lookup(cgroupRoot); err == nil {
			for _, o := range strings.Split(info.VFSOptions, ",") {
				if o == "nsdelegate" || o == "memory_recursiveprot" {
					options = append(options, o)
				}
			}
		}
	}
	return specs.Mount{Destination: cgroupRoot, Type: "cgroup", Source: "cgroup", Options: options}
}
