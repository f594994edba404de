// Package volume prepares a Kubernetes pod's volumes on the gateway, the way
// kubelet's in-tree volume plugins do, so that the containers edged starts
// through containerd can bind-mount them.
//
// Every pod gets Root/<pod uid>/volumes/<plugin>/<volume name>, kubelet's
// layout under /var/lib/kubelet/pods (the plugin directories keep kubelet's
// names, e.g. kubernetes.io~configmap), on the data partition. What lives in
// memory goes under RunRoot/<pod uid> instead, in the same layout: an
// emptyDir with medium Memory is a tmpfs there, sized as kubelet sizes it.
// containerd sees the same /var and /run, so the paths returned by Setup can
// be handed to it as bind-mount sources.
//
// Supported volume types are emptyDir (on disk or in memory), hostPath,
// configMap, secret, downwardAPI and projected (configMap, secret,
// downwardAPI and serviceAccountToken sources, so the kube-api-access-*
// volume the API server adds to every pod is complete). Everything else is
// refused with an error naming the type, because this node has no
// attach/mount machinery (no CSI, no network filesystems, no PVCs).
//
// Content volumes (configMap, secret, downwardAPI, projected) are written in
// kubelet's AtomicWriter layout so that running containers see an update,
// such as a refreshed token, as one atomic switch of the ..data symlink; see
// writer.go.
//
// containerd runs in a mount namespace of its own. It receives a mount made
// after it started only under a shared mount point that existed before it
// started: RunRoot is one (edgegate's init makes /run/edgegate/pods so), Root
// is not. So the tmpfs of memory-backed volumes is mounted under RunRoot, and
// secrets, which kubelet also puts on tmpfs, stay plain files on disk; the
// pod directory is created 0750 so that other host users cannot read them.
// A disk emptyDir's sizeLimit is enforced as kubelet enforces it, by
// evicting the pod (edged, reading DiskUsage), not by a quota.
package volume
