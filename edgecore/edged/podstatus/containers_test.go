package podstatus

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestContainerStatus(t *testing.T) {
	lastCrash := &v1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", ContainerID: "containerd://app-0"}
	oldRunning := v1.ContainerStatus{
		Name: "app", RestartCount: 3, ContainerID: "containerd://app-3",
		State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}},
	}
	oldDone := v1.ContainerStatus{
		Name: "app", RestartCount: 1, ContainerID: "containerd://app-1", Image: "app:1", ImageID: "sha256:1",
		State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", ContainerID: "containerd://app-1"}},
	}
	crash := exited("app", 1)
	crash.RestartCount = 4
	crash.LastTerminated = &Terminated{ExitCode: 2, Reason: "Error", ContainerID: "containerd://app-0"}
	crash.Waiting = &Waiting{Reason: "CrashLoopBackOff", Message: "back-off 20s"}
	startupPending := running("app")
	startupPending.Started = ptr.To(false)
	withImage := running("app")
	withImage.Image = "docker.io/library/app:1"
	created := Container{Name: "app", ID: "containerd://app-1"}

	tests := []struct {
		name   string
		pod    *v1.Pod
		old    []v1.ContainerStatus
		c      []Container
		delete bool
		check  func(t *testing.T, st *v1.ContainerStatus)
	}{{
		name: "no instance: ContainerCreating", pod: spec("app"),
		check: func(t *testing.T, st *v1.ContainerStatus) {
			wantWaiting(t, st, ContainerCreating)
			if st.Image != "app:1" || st.ContainerID != "" || *st.Started || st.Ready {
				t.Errorf("image %q id %q started %v ready %v", st.Image, st.ContainerID, *st.Started, st.Ready)
			}
		},
	}, {
		name: "no instance, pod with init containers: PodInitializing", pod: withInit(spec("app"), "init"),
		check: func(t *testing.T, st *v1.ContainerStatus) { wantWaiting(t, st, PodInitializing) },
	}, {
		name: "no instance: restart count and last state carried over", pod: spec("app"),
		old: []v1.ContainerStatus{{Name: "app", RestartCount: 5, LastTerminationState: v1.ContainerState{Terminated: lastCrash},
			State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			wantWaiting(t, st, ContainerCreating)
			if st.RestartCount != 5 || !reflect.DeepEqual(st.LastTerminationState.Terminated, lastCrash) {
				t.Errorf("restarts %d last %+v, want 5 and the old last state", st.RestartCount, st.LastTerminationState.Terminated)
			}
		},
	}, {
		name: "no instance: a terminated container stays as it was", pod: withPolicy(spec("app"), v1.RestartPolicyNever),
		old: []v1.ContainerStatus{oldDone},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if st.State.Terminated == nil || st.ContainerID != oldDone.ContainerID || st.ImageID != "sha256:1" {
				t.Errorf("status %+v, want the old terminated one", st)
			}
		},
	}, {
		name: "instance gone while running: lost, counted as a restart", pod: spec("app"),
		old: []v1.ContainerStatus{oldRunning},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			wantWaiting(t, st, ContainerCreating)
			last := st.LastTerminationState.Terminated
			if last == nil || last.Reason != ContainerStatusUnknown || last.ExitCode != 137 || st.RestartCount != 4 {
				t.Errorf("last %+v restarts %d, want ContainerStatusUnknown 137 and 4", last, st.RestartCount)
			}
		},
	}, {
		name: "instance gone while running, pod deleted: no restart", pod: spec("app"), delete: true,
		old: []v1.ContainerStatus{oldRunning},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if st.LastTerminationState.Terminated == nil || st.RestartCount != 3 {
				t.Errorf("last %+v restarts %d, want lost and 3", st.LastTerminationState.Terminated, st.RestartCount)
			}
		},
	}, {
		name: "created, not started: waiting without reason", pod: spec("app"), c: []Container{created},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			wantWaiting(t, st, "")
			if st.ContainerID != created.ID {
				t.Errorf("containerID %q", st.ContainerID)
			}
		},
	}, {
		name: "crash loop: waiting, the dead instance is the last state", pod: spec("app"), c: []Container{crash},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			wantWaiting(t, st, "CrashLoopBackOff")
			last := st.LastTerminationState.Terminated
			if last == nil || last.ExitCode != 1 || last.ContainerID != crash.ID || st.RestartCount != 4 || st.State.Waiting.Message != "back-off 20s" {
				t.Errorf("last %+v restarts %d, want exit 1 of %s and 4", last, st.RestartCount, crash.ID)
			}
		},
	}, {
		name: "Never: no back-off on a finished container", pod: withPolicy(spec("app"), v1.RestartPolicyNever), c: []Container{crash},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			term := st.State.Terminated
			if term == nil || term.ExitCode != 1 || term.ContainerID != crash.ID {
				t.Fatalf("state %+v, want terminated 1", st.State)
			}
			if last := st.LastTerminationState.Terminated; last == nil || last.ContainerID != "containerd://app-0" {
				t.Errorf("last %+v, want the instance before", last)
			}
		},
	}, {
		name: "deleted: no back-off", pod: spec("app"), c: []Container{crash}, delete: true,
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if st.State.Terminated == nil {
				t.Errorf("state %+v, want terminated", st.State)
			}
		},
	}, {
		name: "running: started and ready", pod: spec("app"), c: []Container{running("app")},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if st.State.Running == nil || !*st.Started || !st.Ready || st.ImageID == "" || st.Image != "app:1" {
				t.Errorf("status %+v, want running, started, ready, with the spec's image", st)
			}
		},
	}, {
		name: "runtime's image name wins", pod: spec("app"), c: []Container{withImage},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if st.Image != "docker.io/library/app:1" {
				t.Errorf("image %q", st.Image)
			}
		},
	}, {
		name: "startup probe pending: neither started nor ready", pod: spec("app"), c: []Container{startupPending},
		check: func(t *testing.T, st *v1.ContainerStatus) {
			if *st.Started || st.Ready {
				t.Errorf("started %v ready %v, want neither", *st.Started, st.Ready)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.pod.Status.ContainerStatuses = tc.old
			if tc.delete {
				tc.pod.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
			}
			s := Build(up(tc.pod, tc.c...), t0)
			st := status(s, "app")
			if st == nil || st.Started == nil {
				t.Fatalf("status of app: %+v, want one with started set", st)
			}
			tc.check(t, st)
		})
	}
}

func wantWaiting(t *testing.T, st *v1.ContainerStatus, reason string) {
	t.Helper()
	if st.State.Waiting == nil || st.State.Running != nil || st.State.Terminated != nil || st.State.Waiting.Reason != reason {
		t.Errorf("state %+v, want only waiting %q", st.State, reason)
	}
}

func TestInitContainerStatus(t *testing.T) {
	p := up(withInit(spec("app"), "init"), running("app"))
	p.Init = []Container{exited("init", 0)}
	st := status(Build(p, t0), "init")
	if st.State.Terminated == nil || !st.Ready || *st.Started {
		t.Errorf("init %+v, want terminated, ready, not started", st)
	}

	// A completed init container gets no back-off whatever the edge says.
	done := exited("init", 0)
	done.Waiting = &Waiting{Reason: "CrashLoopBackOff"}
	p.Init = []Container{done}
	if st := status(Build(p, t0), "init"); st.State.Terminated == nil {
		t.Errorf("init state %+v, want terminated", st.State)
	}

	// A sidecar is ready as a regular container is.
	sc := up(withSidecar(spec("app"), "proxy"), running("app"))
	notReady := running("proxy")
	notReady.Ready = false
	sc.Init = []Container{notReady}
	if st := status(Build(sc, t0), "proxy"); !*st.Started || st.Ready {
		t.Errorf("sidecar started %v ready %v, want started, not ready", *st.Started, st.Ready)
	}
}

// TestOrderAndNormalisation: container statuses by name, init ones in spec
// order, times to the second, termination messages to the pod's share.
func TestOrderAndNormalisation(t *testing.T) {
	pod := withInit(spec("zeta", "alpha"), "z-init", "a-init")
	long := exited("zeta", 1)
	long.Terminated.Message = strings.Repeat("x", 13000)
	long.Terminated.StartedAt = t0.Add(1500 * time.Millisecond)
	fine := running("alpha")
	fine.Running.StartedAt = t0.Add(999 * time.Millisecond)
	p := up(pod, long, fine)
	p.Init = []Container{exited("z-init", 0), exited("a-init", 0)}
	s := Build(p, t0)

	var names, initNames []string
	for _, st := range s.ContainerStatuses {
		names = append(names, st.Name)
	}
	for _, st := range s.InitContainerStatuses {
		initNames = append(initNames, st.Name)
	}
	if !reflect.DeepEqual(names, []string{"alpha", "zeta"}) || !reflect.DeepEqual(initNames, []string{"z-init", "a-init"}) {
		t.Errorf("containers %v init %v, want [alpha zeta] and [z-init a-init]", names, initNames)
	}
	if got := status(s, "alpha").State.Running.StartedAt.Time; !got.Equal(t0) {
		t.Errorf("startedAt %v, want %v", got, t0)
	}
	term := status(s, "zeta").State.Terminated
	if !term.StartedAt.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("terminated startedAt %v, want %v", term.StartedAt, t0.Add(time.Second))
	}
	if len(term.Message) != 12*1024/4 {
		t.Errorf("termination message of %d bytes, want %d", len(term.Message), 12*1024/4)
	}
}

func TestVolumeMounts(t *testing.T) {
	pod := spec("app")
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
		{Name: "config", MountPath: "/etc/app", ReadOnly: true, RecursiveReadOnly: ptr.To(v1.RecursiveReadOnlyIfPossible)},
	}
	disabled, enabled := v1.RecursiveReadOnlyDisabled, v1.RecursiveReadOnlyEnabled
	for _, supported := range []bool{false, true} {
		p := up(pod)
		p.RecursiveReadOnlyMounts = supported
		configMode := disabled
		if supported {
			configMode = enabled
		}
		want := []v1.VolumeMountStatus{
			{Name: "data", MountPath: "/data"},
			{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true, RecursiveReadOnly: &disabled},
			{Name: "config", MountPath: "/etc/app", ReadOnly: true, RecursiveReadOnly: &configMode},
		}
		if got := status(Build(p, t0), "app").VolumeMounts; !reflect.DeepEqual(got, want) {
			t.Errorf("runtime supports rro %v: mounts %+v, want %+v", supported, got, want)
		}
	}
}

func TestEphemeralContainers(t *testing.T) {
	pod := spec("app")
	pod.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
	p := up(pod, running("app"))
	s := Build(p, t0)
	if len(s.EphemeralContainerStatuses) != 1 {
		t.Fatalf("ephemeral statuses %+v", s.EphemeralContainerStatuses)
	}
	wantWaiting(t, &s.EphemeralContainerStatuses[0], ContainerCreating)
	if s.Phase != v1.PodRunning {
		t.Errorf("phase %s: ephemeral containers do not count", s.Phase)
	}
}
