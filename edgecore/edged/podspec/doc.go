// Package podspec turns one container of a Kubernetes pod into the OCI runtime
// spec that containerd runs, with the meaning kubelet and containerd's CRI
// plugin give the pod's fields.
//
// edged has no kubelet and no CRI: it drives containerd's client directly, one
// network namespace per pod and no pause container. What kubelet computes for
// a container (environment, argv, user, mounts, security context, resources)
// and what containerd's CRI plugin then makes of it in the OCI spec is
// therefore done here, as containerd spec options (oci.SpecOpts) that the
// caller hands to client.WithNewSpec.
//
// The three steps mirror kubelet's:
//   - Env resolves the environment (envFrom, env, valueFrom, $(VAR)
//     expansion) against the pod's configmaps and secrets;
//   - Command builds argv from the container's command and args and the
//     image's Entrypoint and Cmd;
//   - Opts returns the spec options. Every mistake in the pod that only its
//     author can fix comes back as a *ConfigError, which the caller reports as
//     the container's CreateContainerConfigError, the way kubelet does.
//
// Hostname, EtcHostsContent and NodeEtcHostsContent give the pod's hostname
// and the /etc/hosts kubelet writes for it.
//
// Where edged's model forces a difference from kubelet+containerd (no pod
// sandbox: the network and IPC namespaces the pod's containers share are
// pinned files, and there is no PID namespace to share), the option
// documents it. The user and supplementary groups are resolved from
// the container's root filesystem by containerd's own options, as the CRI
// plugin does, so the container given to client.WithNewSpec must already have
// its snapshot (client.WithNewSnapshot before client.WithNewSpec).
package podspec
