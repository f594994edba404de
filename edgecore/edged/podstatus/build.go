package podstatus

import (
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// builder holds what every step of one Build reads.
type builder struct {
	p   *Pod
	pod *v1.Pod
}

// Build returns the pod's status as kubelet would report it
// (generateAPIPodStatus, then its status manager's dating and
// normalisation), with now as the time of any condition transition.
// p.Pod must be set.
func Build(p Pod, now time.Time) v1.PodStatus {
	b := &builder{p: &p, pod: p.Pod}
	old := p.previous()
	s := v1.PodStatus{QOSClass: QOSClass(b.pod)}
	setIPs(&s, &p)
	s.ContainerStatuses = b.statuses(containerSet{specs: b.pod.Spec.Containers, known: p.Containers, old: old.ContainerStatuses})
	s.InitContainerStatuses = b.statuses(containerSet{specs: b.pod.Spec.InitContainers, known: p.Init, old: old.InitContainerStatuses, init: true})
	s.EphemeralContainerStatuses = b.statuses(containerSet{specs: ephemeralSpecs(b.pod), known: p.Ephemeral, old: old.EphemeralContainerStatuses})

	statuses := append(append([]v1.ContainerStatus{}, s.InitContainerStatuses...), s.ContainerStatuses...)
	s.Phase = phase(&b.pod.Spec, statuses, p.Terminal)
	b.setPhaseReason(&s, old)

	s.Conditions = conditions(&p, &s, statuses)
	stamp := metav1.NewTime(now)
	setTransitionTimes(s.Conditions, old.Conditions, stamp)
	s.StartTime = startTime(&p, old, stamp)
	normalize(b.pod, &s)
	return s
}

// setPhaseReason settles the phase against the previous and the
// apiserver's (a terminal phase stays), keeps the reason and message of a
// phase that did not change, and applies a failure the edge decided.
func (b *builder) setPhaseReason(s *v1.PodStatus, old *v1.PodStatus) {
	api := &b.pod.Status
	if !IsTerminal(s.Phase) {
		s.Phase = KeepTerminal(old.Phase, KeepTerminal(api.Phase, s.Phase))
	}
	if s.Phase == old.Phase {
		s.Reason, s.Message = old.Reason, old.Message
		if s.Reason == "" {
			s.Reason = api.Reason
		}
		if s.Message == "" {
			s.Message = api.Message
		}
	}
	if b.p.Reason != "" {
		s.Phase, s.Reason, s.Message = v1.PodFailed, b.p.Reason, b.p.Message
	}
	if IsTerminal(api.Phase) && s.Phase != api.Phase {
		s.Phase = api.Phase
	}
}

// startTime is set once: the earlier report's, else when the edge started
// on the pod, else now.
func startTime(p *Pod, old *v1.PodStatus, now metav1.Time) *metav1.Time {
	for _, t := range []*metav1.Time{old.StartTime, p.Pod.Status.StartTime} {
		if t != nil && !t.IsZero() {
			c := *t
			return &c
		}
	}
	if !p.StartTime.IsZero() {
		t := metav1.NewTime(p.StartTime)
		return &t
	}
	return &now
}

func ephemeralSpecs(pod *v1.Pod) []v1.Container {
	var out []v1.Container
	for i := range pod.Spec.EphemeralContainers {
		out = append(out, v1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return out
}
