package podstatus

import (
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubelet's condition reasons.
const (
	PodCompleted             = "PodCompleted"
	PodFailed                = "PodFailed"
	ContainersNotReady       = "ContainersNotReady"
	ContainersNotInitialized = "ContainersNotInitialized"
	ReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// ownedByKubelet reports the conditions kubelet sets and the apiserver
// copy of which it replaces; all others (readiness gates', controllers')
// belong to someone else and are kept as they are.
func ownedByKubelet(t v1.PodConditionType) bool {
	switch t {
	case v1.PodScheduled, v1.PodReady, v1.PodInitialized, v1.ContainersReady, v1.PodReadyToStartContainers:
		return true
	}
	return false
}

// conditions are kubelet's pod conditions for s: the ones others own from
// the apiserver's status, the disruption target as last reported, then the
// kubelet's own. statuses are the init and regular container statuses.
func conditions(p *Pod, s *v1.PodStatus, statuses []v1.ContainerStatus) []v1.PodCondition {
	pod := p.Pod
	out := make([]v1.PodCondition, 0, len(pod.Status.Conditions)+5)
	for _, c := range pod.Status.Conditions {
		if !ownedByKubelet(c.Type) {
			out = append(out, c)
		}
	}
	if c := findCondition(p.previous().Conditions, v1.DisruptionTarget); c != nil {
		out = replaceOrAppend(out, *c)
	}
	out = append(out, readyToStartContainers(p))
	out = append(out, initialized(&pod.Spec, statuses, s.Phase))
	out = append(out, podReady(&pod.Spec, out, statuses, s.Phase))
	out = append(out, containersReady(&pod.Spec, statuses, s.Phase))
	out = append(out, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue})
	return out
}

// readyToStartContainers: the sandbox is up and, off the host network, has
// an IP.
func readyToStartContainers(p *Pod) v1.PodCondition {
	ready := p.SandboxReady && (p.Pod.Spec.HostNetwork || len(p.PodIPs) > 0)
	return v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: conditionStatus(ready)}
}

// initialized is true once every regular init container succeeded and
// every sidecar started, or a regular container ever ran.
func initialized(spec *v1.PodSpec, statuses []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	var unknown, incomplete []string
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil:
			unknown = append(unknown, c.Name)
		case isSidecar(c) && (st.Started == nil || !*st.Started),
			!isSidecar(c) && !st.Ready:
			incomplete = append(incomplete, c.Name)
		}
	}
	cond := v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionTrue}
	switch {
	case phase == v1.PodSucceeded && len(unknown) == 0:
		cond.Reason = PodCompleted
	case anyRegularStarted(spec, statuses):
	case len(unknown) > 0 || len(incomplete) > 0:
		cond.Status = v1.ConditionFalse
		cond.Reason = ContainersNotInitialized
		cond.Message = unreadyMessage(unknown, "incomplete", incomplete)
	}
	return cond
}

// containersReady is true when every regular container and sidecar is
// ready; a terminal pod's containers are not.
func containersReady(spec *v1.PodSpec, statuses []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	var unknown, unready []string
	check := func(name string) {
		st := findStatus(statuses, name)
		switch {
		case st == nil:
			unknown = append(unknown, name)
		case !st.Ready:
			unready = append(unready, name)
		}
	}
	for i := range spec.InitContainers {
		if isSidecar(&spec.InitContainers[i]) {
			check(spec.InitContainers[i].Name)
		}
	}
	for i := range spec.Containers {
		check(spec.Containers[i].Name)
	}
	if (phase == v1.PodSucceeded && len(unknown) == 0) || phase == v1.PodFailed {
		return terminalCondition(v1.ContainersReady, phase)
	}
	if len(unknown) > 0 || len(unready) > 0 {
		return v1.PodCondition{
			Type: v1.ContainersReady, Status: v1.ConditionFalse,
			Reason: ContainersNotReady, Message: unreadyMessage(unknown, "unready", unready),
		}
	}
	return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionTrue}
}

// podReady is ContainersReady, further held false by any readiness gate
// whose condition (among conds) is not True.
func podReady(spec *v1.PodSpec, conds []v1.PodCondition, statuses []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	cr := containersReady(spec, statuses, phase)
	if cr.Status != v1.ConditionTrue {
		return v1.PodCondition{Type: v1.PodReady, Status: cr.Status, Reason: cr.Reason, Message: cr.Message}
	}
	var msgs []string
	for _, gate := range spec.ReadinessGates {
		c := findCondition(conds, gate.ConditionType)
		switch {
		case c == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(gate.ConditionType)))
		case c.Status != v1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(gate.ConditionType), c.Status))
		}
	}
	if len(msgs) > 0 {
		return v1.PodCondition{
			Type: v1.PodReady, Status: v1.ConditionFalse,
			Reason: ReadinessGatesNotReady, Message: strings.Join(msgs, ", "),
		}
	}
	return v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue}
}

// terminalCondition is Ready or ContainersReady of a pod in a terminal
// phase: false, for the phase's reason.
func terminalCondition(t v1.PodConditionType, phase v1.PodPhase) v1.PodCondition {
	c := v1.PodCondition{Type: t, Status: v1.ConditionFalse}
	switch phase {
	case v1.PodFailed:
		c.Reason = PodFailed
	case v1.PodSucceeded:
		c.Reason = PodCompleted
	}
	return c
}

// unreadyMessage is kubelet's "containers with unknown status: [a],
// containers with <what> status: [b c]".
func unreadyMessage(unknown []string, what string, names []string) string {
	var parts []string
	if len(unknown) > 0 {
		parts = append(parts, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(names) > 0 {
		parts = append(parts, fmt.Sprintf("containers with %s status: %s", what, names))
	}
	return strings.Join(parts, ", ")
}

// datedByKubelet reports the conditions whose lastTransitionTime kubelet
// maintains; the others keep the time their owner gave them.
func datedByKubelet(t v1.PodConditionType) bool {
	return t == v1.DisruptionTarget || ownedByKubelet(t)
}

// setTransitionTimes dates each condition kubelet maintains: the old
// condition's time while its status is unchanged, now otherwise.
func setTransitionTimes(conds []v1.PodCondition, old []v1.PodCondition, now metav1.Time) {
	for i := range conds {
		c := &conds[i]
		if !datedByKubelet(c.Type) {
			continue
		}
		c.LastTransitionTime = now
		if o := findCondition(old, c.Type); o != nil && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		}
	}
}

func findCondition(conds []v1.PodCondition, t v1.PodConditionType) *v1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func replaceOrAppend(conds []v1.PodCondition, c v1.PodCondition) []v1.PodCondition {
	if old := findCondition(conds, c.Type); old != nil {
		*old = c
		return conds
	}
	return append(conds, c)
}

func conditionStatus(b bool) v1.ConditionStatus {
	if b {
		return v1.ConditionTrue
	}
	return v1.ConditionFalse
}
