package podstatus

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubelet's container waiting and termination reasons this package sets.
const (
	// ContainerCreating: the container has no instance yet.
	ContainerCreating = "ContainerCreating"
	// PodInitializing: as ContainerCreating, in a pod with init containers.
	PodInitializing = "PodInitializing"
	// ContainerStatusUnknown: the runtime lost a container that was running.
	ContainerStatusUnknown = "ContainerStatusUnknown"
)

// lostExitCode is what kubelet reports for a container the runtime lost:
// 128+SIGKILL, an error that names no real exit.
const lostExitCode = 137

// containerSet is one kind of the pod's containers (init, regular or
// ephemeral) with what is known of them.
type containerSet struct {
	specs []v1.Container
	known []Container
	old   []v1.ContainerStatus
	init  bool
}

// statuses returns the set's container statuses in spec order.
func (b *builder) statuses(set containerSet) []v1.ContainerStatus {
	known := make(map[string]*Container, len(set.known))
	for i := range set.known {
		known[set.known[i].Name] = &set.known[i]
	}
	old := make(map[string]*v1.ContainerStatus, len(set.old))
	for i := range set.old {
		old[set.old[i].Name] = &set.old[i]
	}
	out := make([]v1.ContainerStatus, 0, len(set.specs))
	for i := range set.specs {
		spec := &set.specs[i]
		out = append(out, b.containerStatus(spec, known[spec.Name], old[spec.Name], set.init))
	}
	return out
}

// containerStatus is kubelet's convertToAPIContainerStatuses for one
// container, followed by its prober's pass over the result. c and old may
// be nil.
func (b *builder) containerStatus(spec *v1.Container, c *Container, old *v1.ContainerStatus, init bool) v1.ContainerStatus {
	var st v1.ContainerStatus
	if c.hasInstance() {
		st = b.instanceStatus(spec, c, old)
	} else {
		st = b.defaultStatus(spec, old)
		b.markLost(&st, old)
	}
	b.applyWaiting(&st, c, init)
	applyProbes(&st, spec, c, init)
	return st
}

func (c *Container) hasInstance() bool {
	return c != nil && (c.ID != "" || c.Running != nil || c.Terminated != nil)
}

// defaultStatus is the status of a container the runtime has no instance
// of: a terminated one stays as it was; any other waits, keeping its
// restart count and last state.
func (b *builder) defaultStatus(spec *v1.Container, old *v1.ContainerStatus) v1.ContainerStatus {
	if old != nil && old.State.Terminated != nil {
		return *old.DeepCopy()
	}
	st := v1.ContainerStatus{
		Name:         spec.Name,
		Image:        spec.Image,
		State:        v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: b.defaultWaitingReason()}},
		VolumeMounts: b.volumeMounts(spec),
	}
	if old != nil {
		st.RestartCount = old.RestartCount
		st.LastTerminationState = *old.LastTerminationState.DeepCopy()
	}
	return st
}

func (b *builder) defaultWaitingReason() string {
	if len(b.pod.Spec.InitContainers) > 0 {
		return PodInitializing
	}
	return ContainerCreating
}

// markLost records that a container which was running has gone from the
// runtime: it did terminate, with an unknown exit. Reporting it as merely
// waiting would put a running pod back to Pending.
func (b *builder) markLost(st *v1.ContainerStatus, old *v1.ContainerStatus) {
	if old == nil || old.State.Running == nil || st.LastTerminationState.Terminated != nil {
		return
	}
	st.LastTerminationState.Terminated = &v1.ContainerStateTerminated{
		Reason:   ContainerStatusUnknown,
		Message:  "The container could not be located when the pod was deleted.  The container used to be Running",
		ExitCode: lostExitCode,
	}
	if b.pod.DeletionTimestamp == nil {
		// Not deleted, so it was restarted.
		st.RestartCount++
	}
}

// instanceStatus is the status of the runtime's newest instance.
func (b *builder) instanceStatus(spec *v1.Container, c *Container, old *v1.ContainerStatus) v1.ContainerStatus {
	st := v1.ContainerStatus{
		Name:         spec.Name,
		RestartCount: c.RestartCount,
		Image:        c.Image,
		ImageID:      c.ImageID,
		ContainerID:  c.ID,
	}
	if st.Image == "" {
		st.Image = spec.Image
	}
	// The mounts are immutable: kubelet carries them over from the status
	// it reported while the container was being created.
	if old != nil && old.VolumeMounts != nil {
		st.VolumeMounts = old.DeepCopy().VolumeMounts
	} else {
		st.VolumeMounts = b.volumeMounts(spec)
	}
	switch {
	case c.Running != nil:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(c.Running.StartedAt)}
	case c.Terminated != nil:
		st.State.Terminated = apiTerminated(c.Terminated, c.ID)
	default: // created, not started
		st.State.Waiting = &v1.ContainerStateWaiting{}
	}
	if c.LastTerminated != nil {
		st.LastTerminationState.Terminated = apiTerminated(c.LastTerminated, "")
	}
	return st
}

func apiTerminated(t *Terminated, id string) *v1.ContainerStateTerminated {
	if t.ContainerID != "" {
		id = t.ContainerID
	}
	return &v1.ContainerStateTerminated{
		ExitCode:    t.ExitCode,
		Signal:      t.Signal,
		Reason:      t.Reason,
		Message:     t.Message,
		StartedAt:   metav1.NewTime(t.StartedAt),
		FinishedAt:  metav1.NewTime(t.FinishedAt),
		ContainerID: id,
	}
}

// applyWaiting reports the edge's reason for holding a container back, for
// a container due a (re)start; what it last terminated with becomes its
// last state.
func (b *builder) applyWaiting(st *v1.ContainerStatus, c *Container, init bool) {
	if c == nil || c.Waiting == nil || !b.dueStart(c, init) {
		return
	}
	if st.State.Terminated != nil {
		st.LastTerminationState = st.State
	}
	st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: c.Waiting.Reason, Message: c.Waiting.Message}}
}

// dueStart is kubelet's ShouldContainerBeRestarted, with its exception for
// init containers that completed.
func (b *builder) dueStart(c *Container, init bool) bool {
	switch {
	case init && c.Running == nil && c.Terminated != nil && c.Terminated.ExitCode == 0:
		return false
	case b.pod.DeletionTimestamp != nil:
		return false
	case !c.hasInstance():
		return true
	case c.Running != nil:
		return false
	case c.Terminated == nil: // created, not started
		return true
	}
	switch b.pod.Spec.RestartPolicy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return c.Terminated.ExitCode != 0
	}
	return true
}

// applyProbes sets Started and Ready as kubelet's prober manager does: a
// container has started once it runs and its startup probe (if any)
// passed; a started container is ready when its readiness probe (if any)
// passes; a regular init container is ready once it exited 0.
func applyProbes(st *v1.ContainerStatus, spec *v1.Container, c *Container, init bool) {
	started := st.State.Running != nil && c != nil && (c.Started == nil || *c.Started)
	st.Started = &started
	if init && !isSidecar(spec) {
		if st.State.Terminated != nil && st.State.Terminated.ExitCode == 0 {
			st.Ready = true
		}
		return
	}
	if started {
		st.Ready = c.Ready
	}
}

// isSidecar reports a restartable init container (restartPolicy Always).
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// volumeMounts are the mount statuses kubelet reports (feature
// RecursiveReadOnlyMounts, on by default since v1.31): read-only mounts
// say whether they are recursively read-only.
func (b *builder) volumeMounts(spec *v1.Container) []v1.VolumeMountStatus {
	var out []v1.VolumeMountStatus
	for _, m := range spec.VolumeMounts {
		vs := v1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			mode := v1.RecursiveReadOnlyDisabled
			if recursiveReadOnly(m, b.p.RecursiveReadOnlyMounts) {
				mode = v1.RecursiveReadOnlyEnabled
			}
			vs.RecursiveReadOnly = &mode
		}
		out = append(out, vs)
	}
	return out
}

// recursiveReadOnly is whether a read-only mount is made recursively so;
// a request the runtime cannot honour (or an invalid one) reads as not,
// as kubelet reports it.
func recursiveReadOnly(m v1.VolumeMount, supported bool) bool {
	if m.RecursiveReadOnly == nil || !supported {
		return false
	}
	if m.MountPropagation != nil && *m.MountPropagation != v1.MountPropagationNone {
		return false
	}
	mode := *m.RecursiveReadOnly
	return mode == v1.RecursiveReadOnlyIfPossible || mode == v1.RecursiveReadOnlyEnabled
}
