package podspec

import (
	"fmt"

	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// namespaceOpts places the container in its namespaces. The pod has no
// sandbox container to hold pod-wide namespaces, so:
//   - network: the pod's network namespace file (joined by path), or the
//     host's for hostNetwork pods, which then share the host's UTS namespace
//     too (containerd does the same for a host-network sandbox) and keep the
//     node's hostname;
//   - uts: a new one per container, named after the pod;
//   - ipc: the pod's IPC namespace file (joined by path), as the kubelet's
//     pod sandbox gives all the pod's containers one, or the host's with
//     hostIPC;
//   - pid: a new one per container, or the host's with hostPID. Kubelet
//     gives the pod's containers one PID namespace with
//     shareProcessNamespace, refused here: a PID namespace ends with its
//     first process, so it cannot be pinned like the others;
//   - cgroup: a new one unless privileged, as containerd does on cgroup v2,
//     so that /sys/fs/cgroup shows the container's own cgroup;
//   - mount: a new one.
func namespaceOpts(in Input, privileged bool) ([]oci.SpecOpts, error) {
	pod, c := in.Pod, in.Container
	if isTrue(pod.Spec.ShareProcessNamespace) {
		return nil, configError(c.Name, "spec.shareProcessNamespace", "not supported on this node: its containers cannot share a PID namespace")
	}
	if isFalse(pod.Spec.HostUsers) {
		return nil, configError(c.Name, "spec.hostUsers", "user namespaces are not supported on this node")
	}

	var opts []oci.SpecOpts
	if pod.Spec.HostNetwork {
		opts = append(opts,
			oci.WithHostNamespace(specs.NetworkNamespace),
			oci.WithHostNamespace(specs.UTSNamespace))
	} else {
		if in.NetNS == "" {
			return nil, fmt.Errorf("pod %s/%s: container %q: no network namespace for a pod on the pod network", pod.Namespace, pod.Name, c.Name)
		}
		opts = append(opts,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.NetNS}),
			oci.WithHostname(in.hostname()))
	}
	if pod.Spec.HostPID {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	}
	switch {
	case pod.Spec.HostIPC:
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	case in.IPC == "":
		return nil, fmt.Errorf("pod %s/%s: container %q: no IPC namespace for the pod", pod.Namespace, pod.Name, c.Name)
	default:
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: in.IPC}))
	}
	if !privileged {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}))
	}
	return opts, nil
}
