package podstatus

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/ptr"
)

// stored is pod as the apiserver returns it after a status write of s:
// through JSON, so times are at second precision in UTC.
func stored(t *testing.T, pod *v1.Pod, s v1.PodStatus) *v1.Pod {
	t.Helper()
	out := pod.DeepCopy()
	out.Status = s
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	back := &v1.Pod{}
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	return back
}

// apply is the apiserver's side: pod's status after the patch.
func apply(t *testing.T, pod *v1.Pod, patch []byte) v1.PodStatus {
	t.Helper()
	orig, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, patch, v1.Pod{})
	if err != nil {
		t.Fatalf("apply %s: %v", patch, err)
	}
	out := &v1.Pod{}
	if err := json.Unmarshal(patched, out); err != nil {
		t.Fatal(err)
	}
	if out.UID != pod.UID {
		t.Fatalf("patch %s changed the uid to %q", patch, out.UID)
	}
	return out.Status
}

func mustPatch(t *testing.T, pod *v1.Pod, s v1.PodStatus) ([]byte, bool) {
	t.Helper()
	patch, changed, err := Patch(pod, s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), `"metadata":{"uid":"uid-1"}`) {
		t.Errorf("patch %s lacks the uid precondition", patch)
	}
	return patch, changed
}

// TestPatchSequence walks a pod's life: each patch, applied as the
// apiserver does, gives the built status, and building again from the
// stored pod changes nothing.
func TestPatchSequence(t *testing.T) {
	pod := withPolicy(spec("app"), v1.RestartPolicyOnFailure)
	crashed := exited("app", 1)
	crashed.Waiting = &Waiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}
	restarted := running("app")
	restarted.ID, restarted.RestartCount = "containerd://app-2", 1
	restarted.LastTerminated = crashed.Terminated
	done := exited("app", 0)
	done.ID, done.RestartCount, done.LastTerminated = "containerd://app-2", 1, crashed.Terminated

	steps := []struct {
		name  string
		p     Pod
		phase v1.PodPhase
	}{
		{"pending", Pod{StartTime: t0}, v1.PodPending},
		{"running", up(nil, running("app")), v1.PodRunning},
		{"crashed", up(nil, crashed), v1.PodRunning},
		{"restarted", up(nil, restarted), v1.PodRunning},
		{"succeeded", up(nil, done), v1.PodSucceeded},
	}
	now := t0
	for _, step := range steps {
		now = now.Add(time.Minute + 123*time.Millisecond)
		step.p.Pod = pod
		s := Build(step.p, now)
		patch, changed := mustPatch(t, pod, s)
		if !changed {
			t.Fatalf("%s: patch %s reported as no change", step.name, patch)
		}
		got := apply(t, pod, patch)
		if !apiequality.Semantic.DeepEqual(got, stored(t, pod, s).Status) {
			t.Fatalf("%s: patch %s gives status\n%+v\nwant\n%+v", step.name, patch, got, s)
		}
		if got.Phase != step.phase {
			t.Errorf("%s: phase %s, want %s", step.name, got.Phase, step.phase)
		}
		pod = stored(t, pod, got)

		// Nothing new to say a second later: no patch.
		again := Build(Pod{Pod: pod, PodIPs: step.p.PodIPs, HostIPs: step.p.HostIPs, SandboxReady: step.p.SandboxReady, Containers: step.p.Containers}, now.Add(time.Second))
		if patch, changed := mustPatch(t, pod, again); changed || string(patch) != `{"metadata":{"uid":"uid-1"}}` {
			t.Errorf("%s: rebuilt status gives patch %s, changed %v; want the uid alone", step.name, patch, changed)
		}
	}
	if st := status(v1.PodStatus{ContainerStatuses: pod.Status.ContainerStatuses}, "app"); st.RestartCount != 1 || st.LastTerminationState.Terminated == nil {
		t.Errorf("final container status %+v, want 1 restart with the crash as last state", st)
	}
}

func TestPatchNeedsUID(t *testing.T) {
	pod := spec("app")
	pod.UID = ""
	if _, _, err := Patch(pod, Build(up(pod), t0)); err == nil {
		t.Error("patch for a pod without uid: no error")
	}
}

func TestCheckTransition(t *testing.T) {
	term := func(code int32) v1.ContainerState {
		return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: code}}
	}
	run := v1.ContainerState{Running: &v1.ContainerStateRunning{}}
	tests := []struct {
		name    string
		pod     *v1.Pod
		old     v1.ContainerState
		init    bool
		illegal bool
	}{
		{"Never: done stays done", withPolicy(spec("app"), v1.RestartPolicyNever), term(0), false, true},
		{"OnFailure: success stays", withPolicy(spec("app"), v1.RestartPolicyOnFailure), term(0), false, true},
		{"OnFailure: failure restarts", withPolicy(spec("app"), v1.RestartPolicyOnFailure), term(1), false, false},
		{"Always restarts", spec("app"), term(0), false, false},
		{"running may stop", withPolicy(spec("app"), v1.RestartPolicyNever), run, false, false},
		{"Never: init done stays done", withPolicy(withInit(spec("main"), "app"), v1.RestartPolicyNever), term(0), true, true},
		{"Never: sidecar restarts", withPolicy(withSidecar(spec("main"), "app"), v1.RestartPolicyNever), term(0), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := []v1.ContainerStatus{{Name: "app", State: tc.old}}
			next := v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{{Name: "app", State: run}}}
			if tc.init {
				tc.pod.Status.InitContainerStatuses = old
				next = v1.PodStatus{InitContainerStatuses: next.ContainerStatuses}
			} else {
				tc.pod.Status.ContainerStatuses = old
			}
			err := CheckTransition(tc.pod, &next)
			if got := errors.Is(err, ErrIllegalTransition); got != tc.illegal {
				t.Fatalf("CheckTransition: %v, want illegal %v", err, tc.illegal)
			}
			if _, _, perr := Patch(tc.pod, next); errors.Is(perr, ErrIllegalTransition) != tc.illegal {
				t.Errorf("Patch: %v, want illegal %v", perr, tc.illegal)
			}
		})
	}
}

// TestPatchKeepsOthersConditions: a condition someone else owns (here a
// readiness gate's, set after the status was built) is left alone.
func TestPatchKeepsOthersConditions(t *testing.T) {
	pod := spec("app")
	s := Build(up(pod, running("app")), t0)
	pod.Status.Conditions = []v1.PodCondition{{Type: "example.com/lb", Status: v1.ConditionTrue}}
	patch, _ := mustPatch(t, pod, s)
	got := apply(t, pod, patch)
	if c := findCondition(got.Conditions, "example.com/lb"); c == nil || c.Status != v1.ConditionTrue {
		t.Errorf("patch %s dropped the readiness gate condition: %+v", patch, got.Conditions)
	}
	if c := findCondition(got.Conditions, v1.PodReady); c == nil || c.Status != v1.ConditionTrue {
		t.Errorf("Ready %+v, want True", c)
	}
}

// TestPatchHoldsTerminalWhileRunning: a pod is not reported failed while
// one of its containers still runs.
func TestPatchHoldsTerminalWhileRunning(t *testing.T) {
	pod := spec("app")
	pod = stored(t, pod, Build(up(pod, running("app")), t0))
	p := up(pod, running("app"))
	p.Reason, p.Message = "Evicted", "low on memory"
	s := Build(p, t0.Add(time.Minute))
	if s.Phase != v1.PodFailed {
		t.Fatalf("built phase %s, want Failed", s.Phase)
	}
	patch, _ := mustPatch(t, pod, s)
	if got := apply(t, pod, patch); got.Phase != v1.PodRunning || got.Reason != "" {
		t.Errorf("patch %s: phase %s reason %q, want Running held", patch, got.Phase, got.Reason)
	}

	// Once the container stopped the failure goes up.
	p.Containers = []Container{exited("app", 137)}
	p.Terminal = true
	patch, _ = mustPatch(t, pod, Build(p, t0.Add(2*time.Minute)))
	if got := apply(t, pod, patch); got.Phase != v1.PodFailed || got.Reason != "Evicted" {
		t.Errorf("patch %s: phase %s reason %q, want Failed Evicted", patch, got.Phase, got.Reason)
	}
}

// TestPatchTerminalNotReady: a terminal status still claiming readiness
// goes up not ready.
func TestPatchTerminalNotReady(t *testing.T) {
	pod := spec("app")
	s := v1.PodStatus{Phase: v1.PodSucceeded, Conditions: []v1.PodCondition{
		{Type: v1.PodReady, Status: v1.ConditionTrue}, {Type: v1.ContainersReady, Status: v1.ConditionTrue},
	}}
	patch, _ := mustPatch(t, pod, s)
	got := apply(t, pod, patch)
	for _, ct := range []v1.PodConditionType{v1.PodReady, v1.ContainersReady} {
		if c := findCondition(got.Conditions, ct); c == nil || c.Status != v1.ConditionFalse || c.Reason != PodCompleted {
			t.Errorf("%s %+v, want False PodCompleted", ct, c)
		}
	}
}

// TestPatchLeavesOthersFields: fields kubelet v1.32 does not set stay as
// the apiserver has them.
func TestPatchLeavesOthersFields(t *testing.T) {
	pod := spec("app")
	pod.Status = v1.PodStatus{
		ObservedGeneration:    3,
		ResourceClaimStatuses: []v1.PodResourceClaimStatus{{Name: "gpu", ResourceClaimName: ptr.To("web-gpu")}},
		VolumeHealth:          []v1.PodVolumeHealth{{Name: "data"}},
	}
	patch, _ := mustPatch(t, pod, Build(up(pod, running("app")), t0))
	got := apply(t, pod, patch)
	if got.ObservedGeneration != 3 || len(got.ResourceClaimStatuses) != 1 || len(got.VolumeHealth) != 1 {
		t.Errorf("patch %s: observedGeneration %d, claims %v, volume health %v; want them kept", patch, got.ObservedGeneration, got.ResourceClaimStatuses, got.VolumeHealth)
	}
	if got.Phase != v1.PodRunning {
		t.Errorf("phase %s, want Running", got.Phase)
	}
}
