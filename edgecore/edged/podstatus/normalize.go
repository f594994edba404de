package podstatus

import (
	"sort"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxTerminationMessages is kubelet's MaxPodTerminationMessageLogLength:
// the bytes of termination messages one pod's status may carry, shared
// evenly among its containers.
const maxTerminationMessages = 12 * 1024

// normalize is kubelet's normalizeStatus: timestamps cut to whole seconds
// (the apiserver stores RFC 3339 without fractions, so a finer time would
// read as a change on every comparison), termination messages cut to the
// pod's share, container statuses sorted by name and init container
// statuses in spec order.
func normalize(pod *v1.Pod, s *v1.PodStatus) {
	perContainer := maxTerminationMessages
	if n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers) + len(pod.Spec.EphemeralContainers); n > 0 {
		perContainer /= n
	}
	if s.StartTime != nil {
		seconds(s.StartTime)
	}
	for i := range s.Conditions {
		seconds(&s.Conditions[i].LastProbeTime)
		seconds(&s.Conditions[i].LastTransitionTime)
	}
	for _, list := range [][]v1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range list {
			normalizeState(&list[i].State, perContainer)
			normalizeState(&list[i].LastTerminationState, perContainer)
		}
	}
	sortByName(s.ContainerStatuses)
	sortByName(s.EphemeralContainerStatuses)
	sortInSpecOrder(pod.Spec.InitContainers, s.InitContainerStatuses)
}

func normalizeState(c *v1.ContainerState, maxMessage int) {
	if c.Running != nil {
		seconds(&c.Running.StartedAt)
	}
	if t := c.Terminated; t != nil {
		seconds(&t.StartedAt)
		seconds(&t.FinishedAt)
		if len(t.Message) > maxMessage {
			t.Message = t.Message[:maxMessage]
		}
	}
}

func seconds(t *metav1.Time) {
	*t = t.Rfc3339Copy()
}

func sortByName(statuses []v1.ContainerStatus) {
	sort.SliceStable(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })
}

// sortInSpecOrder orders the statuses as their containers are in specs;
// statuses of no container in specs go last.
func sortInSpecOrder(specs []v1.Container, statuses []v1.ContainerStatus) {
	rank := make(map[string]int, len(specs))
	for i, c := range specs {
		rank[c.Name] = i
	}
	at := func(name string) int {
		if r, ok := rank[name]; ok {
			return r
		}
		return len(specs)
	}
	sort.SliceStable(statuses, func(i, j int) bool { return at(statuses[i].Name) < at(statuses[j].Name) })
}
