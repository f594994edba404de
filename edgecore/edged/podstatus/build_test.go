package podstatus

import (
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	T = v1.ConditionTrue
	F = v1.ConditionFalse
)

// TestPhaseAndConditions walks kubelet's phase rules and its condition
// reasons and messages over restart policies, init containers and sidecars.
func TestPhaseAndConditions(t *testing.T) {
	initialized := cond{Status: T}
	ready := cond{Status: T}
	scheduled := cond{Status: T}
	sandbox := cond{Status: T}
	notReady := func(msg string) cond { return cond{F, ContainersNotReady, msg} }

	crashLoop := exited("app", 1)
	crashLoop.Waiting = &Waiting{Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container=app"}
	doneNever := exited("app", 1)
	doneNever.Waiting = crashLoop.Waiting // not due a restart under Never: ignored
	sidecarStarting := running("proxy")
	sidecarStarting.Started = ptr.To(false)
	initCrash := exited("init", 1)
	initCrash.Waiting = &Waiting{Reason: "CrashLoopBackOff"}
	pull := Container{Name: "app", Waiting: &Waiting{Reason: "ErrImagePull", Message: "pull access denied"}}
	probing := running("app")
	probing.Ready = false
	evicted := up(spec("app"), running("app"))
	evicted.Reason, evicted.Message = "Evicted", "The node was low on resource: memory."
	gated := spec("app")
	gated.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	gatedTrue := gated.DeepCopy()
	gatedTrue.Status.Conditions = []v1.PodCondition{{Type: "example.com/lb", Status: T}}
	gatedFalse := gated.DeepCopy()
	gatedFalse.Status.Conditions = []v1.PodCondition{{Type: "example.com/lb", Status: F}}
	apiSucceeded := withPolicy(spec("app"), v1.RestartPolicyOnFailure)
	apiSucceeded.Status.Phase = v1.PodSucceeded
	noIP := up(spec("app"))
	noIP.PodIPs = nil
	twoInit := up(withInit(spec("app"), "a", "b"))
	twoInit.Init = []Container{exited("a", 0), running("b")}

	tests := []struct {
		name  string
		p     Pod
		phase v1.PodPhase
		conds map[v1.PodConditionType]cond
	}{{
		name: "nothing created yet", p: Pod{Pod: spec("b", "a")}, phase: v1.PodPending,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: {Status: F}, v1.PodInitialized: initialized,
			v1.PodReady: notReady("containers with unready status: [b a]"), v1.ContainersReady: notReady("containers with unready status: [b a]"),
			v1.PodScheduled: scheduled,
		},
	}, {
		name: "sandbox without an IP is not ready to start containers", p: noIP, phase: v1.PodPending,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: {Status: F}, v1.PodInitialized: initialized,
			v1.PodReady: notReady("containers with unready status: [app]"), v1.ContainersReady: notReady("containers with unready status: [app]"),
			v1.PodScheduled: scheduled,
		},
	}, {
		name: "running and ready", p: up(spec("app"), running("app")), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized, v1.PodReady: ready, v1.ContainersReady: ready, v1.PodScheduled: scheduled,
		},
	}, {
		name: "running, readiness probe failing", p: up(spec("app"), probing), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized,
			v1.PodReady: notReady("containers with unready status: [app]"), v1.ContainersReady: notReady("containers with unready status: [app]"),
			v1.PodScheduled: scheduled,
		},
	}, {
		name: "one running, one not created", p: up(spec("a", "b"), running("a")), phase: v1.PodPending,
	}, {
		name: "image pull failing", p: up(spec("app"), pull), phase: v1.PodPending,
	}, {
		name: "Always: exited 0 is restarting", p: up(spec("app"), exited("app", 0)), phase: v1.PodRunning,
	}, {
		name: "Always: crash loop", p: up(spec("app"), crashLoop), phase: v1.PodRunning,
	}, {
		name: "OnFailure: exited 0 succeeds", p: up(withPolicy(spec("app"), v1.RestartPolicyOnFailure), exited("app", 0)), phase: v1.PodSucceeded,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: {T, PodCompleted, ""},
			v1.PodReady: {F, PodCompleted, ""}, v1.ContainersReady: {F, PodCompleted, ""}, v1.PodScheduled: scheduled,
		},
	}, {
		name: "OnFailure: exited 1 restarts", p: up(withPolicy(spec("app"), v1.RestartPolicyOnFailure), exited("app", 1)), phase: v1.PodRunning,
	}, {
		name: "Never: exited 1 fails", p: up(withPolicy(spec("app"), v1.RestartPolicyNever), doneNever), phase: v1.PodFailed,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized,
			v1.PodReady: {F, PodFailed, ""}, v1.ContainersReady: {F, PodFailed, ""}, v1.PodScheduled: scheduled,
		},
	}, {
		name: "Never: one done, one running", p: up(withPolicy(spec("a", "b"), v1.RestartPolicyNever), exited("a", 0), running("b")), phase: v1.PodRunning,
	}, {
		name: "Never: both done, one failed", p: up(withPolicy(spec("a", "b"), v1.RestartPolicyNever), exited("a", 0), exited("b", 2)), phase: v1.PodFailed,
	}, {
		name: "init containers not started", p: up(withInit(spec("app"), "init")), phase: v1.PodPending,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox,
			v1.PodInitialized:            {F, ContainersNotInitialized, "containers with incomplete status: [init]"},
			v1.PodReady:                  notReady("containers with unready status: [app]"), v1.ContainersReady: notReady("containers with unready status: [app]"),
			v1.PodScheduled: scheduled,
		},
	}, {
		name: "second init container running", p: twoInit, phase: v1.PodPending,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox,
			v1.PodInitialized:            {F, ContainersNotInitialized, "containers with incomplete status: [b]"},
			v1.PodReady:                  notReady("containers with unready status: [app]"), v1.ContainersReady: notReady("containers with unready status: [app]"),
			v1.PodScheduled: scheduled,
		},
	}, {
		name: "init done, app running", p: func() Pod {
			p := up(withInit(spec("app"), "init"), running("app"))
			p.Init = []Container{exited("init", 0)}
			return p
		}(), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized, v1.PodReady: ready, v1.ContainersReady: ready, v1.PodScheduled: scheduled,
		},
	}, {
		name: "Never: init failed fails the pod", p: func() Pod {
			p := up(withPolicy(withInit(spec("app"), "init"), v1.RestartPolicyNever))
			p.Init = []Container{exited("init", 1)}
			return p
		}(), phase: v1.PodFailed,
	}, {
		name: "Always: init crash loop stays pending", p: func() Pod {
			p := up(withInit(spec("app"), "init"))
			p.Init = []Container{initCrash}
			return p
		}(), phase: v1.PodPending,
	}, {
		name: "sidecar not yet started holds the pod", p: func() Pod {
			p := up(withSidecar(spec("app"), "proxy"))
			p.Init = []Container{sidecarStarting}
			return p
		}(), phase: v1.PodPending,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox,
			v1.PodInitialized:            {F, ContainersNotInitialized, "containers with incomplete status: [proxy]"},
			v1.PodReady:                  notReady("containers with unready status: [proxy app]"),
			v1.ContainersReady:           notReady("containers with unready status: [proxy app]"),
			v1.PodScheduled:              scheduled,
		},
	}, {
		name: "sidecar and app running", p: func() Pod {
			p := up(withSidecar(spec("app"), "proxy"), running("app"))
			p.Init = []Container{running("proxy")}
			return p
		}(), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized, v1.PodReady: ready, v1.ContainersReady: ready, v1.PodScheduled: scheduled,
		},
	}, {
		name: "Never: app done, sidecar still running", p: func() Pod {
			p := up(withPolicy(withSidecar(spec("app"), "proxy"), v1.RestartPolicyNever), exited("app", 0))
			p.Init = []Container{running("proxy")}
			return p
		}(), phase: v1.PodRunning,
	}, {
		name: "Never: app done, sidecar stopped", p: func() Pod {
			p := up(withPolicy(withSidecar(spec("app"), "proxy"), v1.RestartPolicyNever), exited("app", 0))
			p.Init = []Container{exited("proxy", 137)}
			return p
		}(), phase: v1.PodSucceeded,
	}, {
		name: "terminal (deleted): Always, stopped cleanly", p: func() Pod {
			p := up(spec("app"), exited("app", 0))
			p.Terminal = true
			return p
		}(), phase: v1.PodSucceeded,
	}, {
		name: "terminal (deleted): Always, killed", p: func() Pod {
			p := up(spec("app"), exited("app", 137))
			p.Terminal = true
			return p
		}(), phase: v1.PodFailed,
	}, {
		name: "apiserver has it terminal: stays", p: up(apiSucceeded, running("app")), phase: v1.PodSucceeded,
	}, {
		name: "evicted", p: evicted, phase: v1.PodFailed,
	}, {
		name: "readiness gate condition missing", p: up(gated, running("app")), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized,
			v1.PodReady:        {F, ReadinessGatesNotReady, `corresponding condition of pod readiness gate "example.com/lb" does not exist.`},
			v1.ContainersReady: ready, v1.PodScheduled: scheduled,
		},
	}, {
		name: "readiness gate false", p: up(gatedFalse, running("app")), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized,
			v1.PodReady:        {F, ReadinessGatesNotReady, `the status of pod readiness gate "example.com/lb" is not "True", but False`},
			v1.ContainersReady: ready, v1.PodScheduled: scheduled, "example.com/lb": {Status: F},
		},
	}, {
		name: "readiness gate true", p: up(gatedTrue, running("app")), phase: v1.PodRunning,
		conds: map[v1.PodConditionType]cond{
			v1.PodReadyToStartContainers: sandbox, v1.PodInitialized: initialized, v1.PodReady: ready,
			v1.ContainersReady: ready, v1.PodScheduled: scheduled, "example.com/lb": {Status: T},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Build(tc.p, t0.Add(time.Minute))
			if s.Phase != tc.phase {
				t.Errorf("phase %s, want %s", s.Phase, tc.phase)
			}
			if tc.conds == nil {
				return
			}
			if got := conds(s); !reflect.DeepEqual(got, tc.conds) {
				t.Errorf("conditions\n got %v\nwant %v", got, tc.conds)
			}
		})
	}
}

func TestPhaseReason(t *testing.T) {
	t.Run("evicted", func(t *testing.T) {
		p := up(spec("app"), running("app"))
		p.Reason, p.Message = "Evicted", "The node was low on resource: memory."
		s := Build(p, t0)
		if s.Phase != v1.PodFailed || s.Reason != "Evicted" || s.Message != p.Message {
			t.Errorf("phase %s reason %q message %q, want Failed Evicted", s.Phase, s.Reason, s.Message)
		}
	})
	t.Run("kept while the phase holds", func(t *testing.T) {
		pod := spec("app")
		pod.Status = v1.PodStatus{Phase: v1.PodRunning, Reason: "Something", Message: "said by someone"}
		s := Build(up(pod, running("app")), t0)
		if s.Reason != "Something" || s.Message != "said by someone" {
			t.Errorf("reason %q message %q, want the old ones", s.Reason, s.Message)
		}
	})
	t.Run("dropped when the phase changes", func(t *testing.T) {
		pod := spec("app")
		pod.Status = v1.PodStatus{Phase: v1.PodPending, Reason: "Something"}
		s := Build(up(pod, running("app")), t0)
		if s.Reason != "" {
			t.Errorf("reason %q, want none after Pending -> Running", s.Reason)
		}
	})
	t.Run("apiserver's terminal phase wins over an eviction", func(t *testing.T) {
		pod := withPolicy(spec("app"), v1.RestartPolicyNever)
		pod.Status = v1.PodStatus{Phase: v1.PodSucceeded}
		p := up(pod, exited("app", 0))
		p.Reason = "Evicted"
		if s := Build(p, t0); s.Phase != v1.PodSucceeded {
			t.Errorf("phase %s, want Succeeded kept", s.Phase)
		}
	})
}

func TestKeepTerminal(t *testing.T) {
	tests := []struct{ old, next, want v1.PodPhase }{
		{"", v1.PodPending, v1.PodPending},
		{v1.PodPending, v1.PodRunning, v1.PodRunning},
		{v1.PodRunning, v1.PodFailed, v1.PodFailed},
		{v1.PodSucceeded, v1.PodRunning, v1.PodSucceeded},
		{v1.PodFailed, v1.PodPending, v1.PodFailed},
		{v1.PodFailed, v1.PodSucceeded, v1.PodFailed},
	}
	for _, tc := range tests {
		if got := KeepTerminal(tc.old, tc.next); got != tc.want {
			t.Errorf("KeepTerminal(%q, %q) = %q, want %q", tc.old, tc.next, got, tc.want)
		}
	}
}

// TestTransitionTimes: a condition keeps its lastTransitionTime while its
// status holds, and gets now (to the second) when it flips; the start time
// is set once.
func TestTransitionTimes(t *testing.T) {
	earlier := metav1.NewTime(t0)
	pod := spec("app")
	pod.Status = v1.PodStatus{
		Phase:     v1.PodRunning,
		StartTime: &earlier,
		Conditions: []v1.PodCondition{
			{Type: v1.PodReady, Status: T, LastTransitionTime: earlier},
			{Type: v1.ContainersReady, Status: T, LastTransitionTime: earlier},
			{Type: v1.PodInitialized, Status: T, LastTransitionTime: earlier},
			{Type: v1.PodScheduled, Status: T, LastTransitionTime: earlier},
			{Type: v1.PodReadyToStartContainers, Status: T, LastTransitionTime: earlier},
			{Type: "example.com/other", Status: T, LastTransitionTime: earlier},
		},
	}
	unready := running("app")
	unready.Ready = false
	now := t0.Add(time.Hour + 300*time.Millisecond)
	p := up(pod, unready)
	p.StartTime = t0.Add(time.Minute) // ignored: the pod has a start time
	s := Build(p, now)

	want := map[v1.PodConditionType]time.Time{
		v1.PodReady:                  now.Truncate(time.Second),
		v1.ContainersReady:           now.Truncate(time.Second),
		v1.PodInitialized:            t0,
		v1.PodScheduled:              t0,
		v1.PodReadyToStartContainers: t0,
		"example.com/other":          t0,
	}
	for _, c := range s.Conditions {
		if w, ok := want[c.Type]; !ok || !c.LastTransitionTime.Time.Equal(w) {
			t.Errorf("%s lastTransitionTime %v, want %v", c.Type, c.LastTransitionTime, w)
		}
		delete(want, c.Type)
	}
	if len(want) > 0 {
		t.Errorf("conditions missing: %v", want)
	}
	if !s.StartTime.Time.Equal(t0) {
		t.Errorf("startTime %v, want %v kept", s.StartTime, t0)
	}

	// Previous (the edge's last report) takes precedence over the
	// apiserver's copy, which may lag.
	prev := s.DeepCopy()
	p.Previous = prev
	later := now.Add(time.Hour)
	if s2 := Build(p, later); !findCondition(s2.Conditions, v1.PodReady).LastTransitionTime.Time.Equal(now.Truncate(time.Second)) {
		t.Errorf("Ready lastTransitionTime %v, want %v from Previous", findCondition(s2.Conditions, v1.PodReady).LastTransitionTime, now)
	}
}

func TestStartTime(t *testing.T) {
	now := t0.Add(time.Hour + time.Millisecond)
	first := up(spec("app"))
	first.StartTime = t0.Add(1500 * time.Millisecond)
	if s := Build(first, now); !s.StartTime.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("startTime %v, want the edge's start %v to the second", s.StartTime, t0.Add(time.Second))
	}
	first.StartTime = time.Time{}
	if s := Build(first, now); !s.StartTime.Time.Equal(now.Truncate(time.Second)) {
		t.Errorf("startTime %v, want now %v", s.StartTime, now)
	}
}
