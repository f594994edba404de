package podspec

import (
	"errors"
	"os"

	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	v1 "k8s.io/api/core/v1"
)

// Mount is a pod volume prepared on the host.
type Mount struct {
	HostPath string
	// ReadOnly is the volume's own read-only-ness (configmap, secret,
	// downwardAPI and projected volumes are, in kubelet), on top of the
	// volumeMount's readOnly.
	ReadOnly bool
}

// Input is everything Opts needs to build one container's spec.
type Input struct {
	Pod       *v1.Pod
	Container *v1.Container
	// Image is the config of the container's image.
	Image ocispec.ImageConfig
	// Env is the container's environment, from Env.
	Env []string
	// Volumes maps the pod's volume names to their prepared host paths.
	Volumes map[string]Mount
	// NetNS is the path of the pod's network namespace file, joined by the
	// container; "" for hostNetwork pods, which use the host's (and for
	// which it is ignored).
	NetNS string
	// IPC is the path of the pod's IPC namespace file, joined by the
	// container, and Shm the host directory mounted at its /dev/shm: the
	// pod's, shared by its containers as in a kubelet's pod sandbox. Both
	// are ignored for hostIPC pods, which use the host's.
	IPC, Shm string
	// Hostname is the pod's hostname (Hostname(pod) when empty). A
	// hostNetwork pod keeps the node's hostname; for it this only sets
	// HOSTNAME, and should be the node's name (os.Hostname when empty).
	Hostname string
	// EtcHosts and ResolvConf are host files bind-mounted read-only at
	// /etc/hosts and /etc/resolv.conf; "" for none.
	EtcHosts, ResolvConf string
	// TerminationLog is the host file bind-mounted read-write at the
	// container's terminationMessagePath (/dev/termination-log when
	// unset); "" for none.
	TerminationLog string
	// CgroupsPath is the container's cgroup (v2) path, for example
	// "/edgegate/pod<uid>/<name>"; "" keeps containerd's
	// /<namespace>/<container id>.
	CgroupsPath string
}

// hostname is the name the container sees: Input.Hostname, else the pod's
// (or, for a hostNetwork pod, the node's).
func (in Input) hostname() string {
	if in.Hostname != "" {
		return in.Hostname
	}
	if in.Pod.Spec.HostNetwork {
		if name, err := os.Hostname(); err == nil {
			return name
		}
	}
	return Hostname(in.Pod)
}

// Opts returns the spec options that make the container's OCI spec from
// containerd's default one, with kubelet's and containerd CRI's meaning of
// the pod's fields (see each part: Command, userOpts, namespaceOpts,
// mountOpts, securityOpts, resourceOpts). The user and supplementary groups
// are resolved from the container's root filesystem when the options are
// applied, so the container must have its snapshot by then.
//
// A mistake in the pod is a *ConfigError naming the field. Subpath
// directories are created on the host before Opts returns.
func Opts(in Input) ([]oci.SpecOpts, error) {
	if in.Pod == nil || in.Container == nil {
		return nil, errors.New("podspec: Input needs a pod and a container")
	}
	c := in.Container
	privileged := c.SecurityContext != nil && isTrue(c.SecurityContext.Privileged)

	argv, err := Command(c, in.Image, in.Env)
	if err != nil {
		return nil, err
	}
	namespaces, err := namespaceOpts(in, privileged)
	if err != nil {
		return nil, err
	}
	mounts, err := mountOpts(in, privileged)
	if err != nil {
		return nil, err
	}
	security, err := securityOpts(in.Pod, c)
	if err != nil {
		return nil, err
	}
	user, err := userOpts(in.Pod, c, in.Image)
	if err != nil {
		return nil, err
	}

	opts := []oci.SpecOpts{withProcess(argv, workingDir(c, in.Image.WorkingDir), in.Env, in.hostname(), c.TTY)}
	// Namespaces before mounts: the cgroup mount depends on whether the
	// container has a cgroup namespace. Mounts before security: privileged
	// mode makes sysfs and cgroupfs writable.
	opts = append(opts, namespaces...)
	opts = append(opts, mounts)
	opts = append(opts, security...)
	opts = append(opts, resourceOpts(c))
	if in.CgroupsPath != "" {
		opts = append(opts, oci.WithCgroup(in.CgroupsPath))
	}
	return append(opts, user...), nil
}
