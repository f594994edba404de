package podstatus

import (
	v1 "k8s.io/api/core/v1"
)

// IsTerminal reports whether phase is Succeeded or Failed.
func IsTerminal(phase v1.PodPhase) bool {
	return phase == v1.PodSucceeded || phase == v1.PodFailed
}

// KeepTerminal is kubelet's rule that a pod never leaves a terminal phase:
// the phase to report when the pod had phase old and would now have next.
// Once Succeeded or Failed the pod's containers are not to be started
// again either: a pod coming back from the apiserver in a terminal phase
// is done.
func KeepTerminal(old, next v1.PodPhase) v1.PodPhase {
	if IsTerminal(old) {
		return old
	}
	return next
}

// phaseCounts tallies the containers' states as kubelet's getPhase does.
type phaseCounts struct {
	pendingInit     int // regular init containers not yet succeeded
	failedInit      int
	pendingSidecars int // restartable init containers not yet started
	unknown         int
	running         int
	waiting         int
	stopped         int
	succeeded       int
}

// phase is kubelet's getPhase: the pod's phase from its init and regular
// container statuses. terminal says the pod's containers will not be
// started again, so stopped containers end the pod whatever its restart
// policy.
func phase(spec *v1.PodSpec, statuses []v1.ContainerStatus, terminal bool) v1.PodPhase {
	var n phaseCounts
	n.countInit(spec, statuses)
	n.countSidecars(spec, statuses)
	n.countRegular(spec, statuses)

	if n.failedInit > 0 && spec.RestartPolicy == v1.RestartPolicyNever {
		return v1.PodFailed
	}
	switch {
	case n.pendingInit > 0,
		// Sidecars restarting after the regular containers ran do not
		// put the pod back to Pending.
		n.pendingSidecars > 0 && !anyRegularStarted(spec, statuses),
		n.waiting > 0:
		return v1.PodPending
	case n.running > 0 && n.unknown == 0:
		return v1.PodRunning
	case n.running == 0 && n.stopped > 0 && n.unknown == 0:
		return stoppedPhase(spec.RestartPolicy, n, terminal)
	}
	return v1.PodPending
}

// stoppedPhase is the phase of a pod whose containers have all stopped.
func stoppedPhase(policy v1.RestartPolicy, n phaseCounts, terminal bool) v1.PodPhase {
	switch {
	case terminal && n.stopped == n.succeeded:
		return v1.PodSucceeded
	case terminal:
		return v1.PodFailed
	case policy == v1.RestartPolicyAlways:
		return v1.PodRunning // all restarting
	case n.stopped == n.succeeded:
		return v1.PodSucceeded
	case policy == v1.RestartPolicyNever:
		return v1.PodFailed
	}
	return v1.PodRunning // OnFailure: the failed ones restart
}

func (n *phaseCounts) countInit(spec *v1.PodSpec, statuses []v1.ContainerStatus) {
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if isSidecar(c) {
			continue
		}
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil || st.State.Running != nil:
			n.pendingInit++
		case st.State.Terminated != nil:
			if st.State.Terminated.ExitCode != 0 {
				n.failedInit++
			}
		case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
			if st.LastTerminationState.Terminated.ExitCode != 0 {
				n.failedInit++
			}
		default:
			n.pendingInit++
		}
	}
}

// countSidecars counts restartable init containers with the regular ones;
// a terminated sidecar does not count at all.
func (n *phaseCounts) countSidecars(spec *v1.PodSpec, statuses []v1.ContainerStatus) {
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if !isSidecar(c) {
			continue
		}
		st := findStatus(statuses, c.Name)
		switch {
		case st == nil:
			n.unknown++
		case st.State.Running != nil:
			if st.Started == nil || !*st.Started {
				n.pendingSidecars++
			}
			n.running++
		case st.State.Terminated != nil:
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated == nil {
				n.pendingSidecars++
				n.waiting++
			}
		default:
			n.pendingSidecars++
			n.unknown++
		}
	}
}

func (n *phaseCounts) countRegular(spec *v1.PodSpec, statuses []v1.ContainerStatus) {
	for i := range spec.Containers {
		st := findStatus(statuses, spec.Containers[i].Name)
		switch {
		case st == nil:
			n.unknown++
		case st.State.Running != nil:
			n.running++
		case st.State.Terminated != nil:
			n.stopped++
			if st.State.Terminated.ExitCode == 0 {
				n.succeeded++
			}
		case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
			n.stopped++
		case st.State.Waiting != nil:
			n.waiting++
		default:
			n.unknown++
		}
	}
}

// anyRegularStarted reports whether a regular container runs or ran: the
// pod has been initialized.
func anyRegularStarted(spec *v1.PodSpec, statuses []v1.ContainerStatus) bool {
	for i := range spec.Containers {
		st := findStatus(statuses, spec.Containers[i].Name)
		if st != nil && (st.State.Running != nil || st.State.Terminated != nil) {
			return true
		}
	}
	return false
}

func findStatus(statuses []v1.ContainerStatus, name string) *v1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}
