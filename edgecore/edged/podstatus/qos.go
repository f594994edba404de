package podstatus

import (
	v1 "k8s.io/api/core/v1"
)

// QOSClass is kubelet's qos.GetPodQOS: the class the apiserver recorded at
// creation, else the one computed from the containers' resources.
func QOSClass(pod *v1.Pod) v1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return ComputeQOSClass(pod)
}

// ComputeQOSClass is kubelet's qos.ComputePodQOS with the v1.32 default
// feature gates (no pod-level resources): BestEffort when no container
// requests or limits cpu or memory; Guaranteed when every container limits
// both and the pod's summed requests equal its summed limits; Burstable
// otherwise. Init containers count as containers; ephemeral ones have no
// resources.
func ComputeQOSClass(pod *v1.Pod) v1.PodQOSClass {
	requests := v1.ResourceList{}
	limits := v1.ResourceList{}
	guaranteed := true
	containers := append(append([]v1.Container{}, pod.Spec.Containers...), pod.Spec.InitContainers...)
	for _, c := range containers {
		addPositive(requests, c.Resources.Requests)
		limited := addPositive(limits, c.Resources.Limits)
		if !limited[v1.ResourceCPU] || !limited[v1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return v1.PodQOSBestEffort
	}
	for name, req := range requests {
		if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
			guaranteed = false
			break
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// addPositive adds to sum the cpu and memory quantities of list that are
// above zero, and returns which it added.
func addPositive(sum, list v1.ResourceList) map[v1.ResourceName]bool {
	added := map[v1.ResourceName]bool{}
	for name, q := range list {
		if name != v1.ResourceCPU && name != v1.ResourceMemory {
			continue
		}
		if q.Sign() <= 0 {
			continue
		}
		total := q.DeepCopy()
		if prev, ok := sum[name]; ok {
			total.Add(prev)
		}
		sum[name] = total
		added[name] = true
	}
	return added
}
