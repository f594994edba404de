// Package volume prepares a Kubernetes pod's volumes on the gateway's data
// partition, the way kubelet's in-tree volume plugins do, so that the
// containers edged starts through containerd can bind-mount them.
//
// Every pod gets Root/<pod uid>/volumes/<plugin>/<volume name>, kubelet's
// layout under /var/lib/kubelet/pods (the plugin directories keep kubelet's
// names, e.g. kubernetes.io~configmap). containerd sees the same /var, so the
// paths returned by Setup can be handed to it as bind-mount sources.
//
// Supported volume types are emptyDir, hostPath, configMap, secret,
// downwardAPI and projected (configMap, secret and downwardAPI sources, plus
// the kube-api-access-* volume the apiserver adds to every pod, whose token is
// not written). Everything else is refused with an error naming the type,
// because this node has no attach/mount machinery (no CSI, no network
// filesystems, no PVCs).
//
// Content volumes (configMap, secret, downwardAPI, projected) are written in
// kubelet's AtomicWriter layout so that running containers see an update as
// one atomic switch of the ..data symlink; see writer.go.
//
// One difference from kubelet is deliberate: nothing is mounted. kubelet puts
// secrets and emptyDir{medium: Memory} on tmpfs, but containerd runs in a
// mount namespace of its own that does not receive mounts edgecore makes
// after it started, so a tmpfs mounted here would be invisible to it and the
// container would bind-mount the empty directory underneath. Everything is
// therefore a plain directory on disk, secrets included; the pod directory is
// created 0750 so that other host users cannot read them.
package volume
