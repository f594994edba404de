// Package podstatus turns what edged's runtime knows about a pod (its
// containers' states, its sandbox and IPs) into the v1.PodStatus a kubelet
// would report, and into the status patch the edge sends up as podpatch.
//
// KubeEdge's edged embeds the upstream kubelet, so cloudcore, kubectl and
// every controller expect kubelet's status to the letter: the phase rules
// (restart policy, init and sidecar containers), the condition reasons and
// messages, container statuses sorted as kubelet sorts them, timestamps cut
// to seconds, the uid precondition in the patch. This package reproduces
// the parts of kubelet v1.32 that do that (pkg/kubelet/kubelet_pods.go
// generateAPIPodStatus, pkg/kubelet/status) with its default feature gates,
// written against this package's own inputs instead of kubelet's runtime
// cache. It keeps no state: the previous status is an input.
package podstatus
