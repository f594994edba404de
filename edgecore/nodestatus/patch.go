package nodestatus

import (
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusPatch is the strategic-merge patch cloudcore applies to the node's
// status subresource to take the node the cloud last returned (old) to
// updated: the whole status, and the labels that differ.
//
// Sending the whole status (about 1.5 KiB, once per change or report
// period) instead of a computed two-way diff keeps apimachinery's
// strategicpatch and its OpenAPI machinery (7 MiB) out of the binary, and
// is as correct: conditions, capacity and nodeInfo merge by key, and the
// address list, whose declared merge key ("type") cannot express a changed
// address, is replaced whole with the "$patch: replace" directive.
func statusPatch(old, updated *v1.Node) ([]byte, error) {
	status, err := toMap(updated.Status)
	if err != nil {
		return nil, fmt.Errorf("node status patch: %w", err)
	}
	addrs := make([]any, 0, len(updated.Status.Addresses)+1)
	for _, a := range updated.Status.Addresses {
		addrs = append(addrs, map[string]any{"type": string(a.Type), "address": a.Address})
	}
	status["addresses"] = append(addrs, map[string]any{"$patch": "replace"})
	patch := map[string]any{"status": status}
	if labels := changedLabels(old.Labels, updated.Labels); len(labels) > 0 {
		patch["metadata"] = map[string]any{"labels": labels}
	}
	return json.Marshal(patch)
}

// changedLabels is the labels merge patch from old to updated: new and
// changed values, and null for removed keys.
func changedLabels(old, updated map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range updated {
		if ov, ok := old[k]; !ok || ov != v {
			out[k] = v
		}
	}
	for k := range old {
		if _, ok := updated[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// statusChanged reports whether updated differs from old in anything but
// heartbeat times: the kubelet's test for patching before
// nodeStatusReportFrequency has passed.
func statusChanged(old, updated *v1.Node) bool {
	if !equality.Semantic.DeepEqual(old.Labels, updated.Labels) {
		return true
	}
	a, b := withoutHeartbeats(old.Status), withoutHeartbeats(updated.Status)
	return !equality.Semantic.DeepEqual(a, b)
}

func withoutHeartbeats(s v1.NodeStatus) v1.NodeStatus {
	s = *s.DeepCopy()
	for i := range s.Conditions {
		s.Conditions[i].LastHeartbeatTime = metav1.Time{}
	}
	return s
}

// mergeStatus lays the status edgecore measured over the one the cloud
// holds: edgecore's conditions, resources, addresses and node info replace
// theirs, and what others wrote (a condition a network plugin sets, an
// extended resource) stays, so it is neither erased nor seen as a change
// on every update.
func mergeStatus(cloud, ours v1.NodeStatus) v1.NodeStatus {
	out := *cloud.DeepCopy()
	out.Capacity = mergeResources(cloud.Capacity, ours.Capacity)
	out.Allocatable = mergeResources(cloud.Allocatable, ours.Allocatable)
	out.Addresses = ours.Addresses
	out.NodeInfo = ours.NodeInfo
	for _, c := range ours.Conditions {
		replaced := false
		for i := range out.Conditions {
			if out.Conditions[i].Type == c.Type {
				out.Conditions[i], replaced = c, true
			}
		}
		if !replaced {
			out.Conditions = append(out.Conditions, c)
		}
	}
	return out
}

func mergeResources(cloud, ours v1.ResourceList) v1.ResourceList {
	out := v1.ResourceList{}
	for k, v := range cloud {
		out[k] = v
	}
	for k, v := range ours {
		out[k] = v
	}
	return out
}
