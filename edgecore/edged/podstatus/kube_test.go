package podstatus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/kubeapi"
)

// The apiserver tests share one server.
func TestMain(m *testing.M) {
	code := m.Run()
	kubeapi.StopShared()
	os.Exit(code)
}

// kubeNode is the node the tests' pods are bound to; no such node need
// exist for the apiserver to take them.
const kubeNode = "edge-podstatus"

// kubePods starts (or shares) the apiserver and returns the pods client of
// a fresh namespace.
func kubePods(t *testing.T, ns string) (context.Context, kubernetes.Interface) {
	t.Helper()
	s := kubeapi.Shared(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := s.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return ctx, s.Client()
}

func createPod(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string) *v1.Pod {
	t.Helper()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1.PodSpec{
			NodeName:      kubeNode,
			RestartPolicy: v1.RestartPolicyOnFailure,
			Containers:    []v1.Container{{Name: "app", Image: "nginx"}},
		},
	}
	created, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	return created
}

// patchStatus sends the patch from pod to s as cloudcore applies podpatch.
func patchStatus(ctx context.Context, c kubernetes.Interface, pod *v1.Pod, s v1.PodStatus) (*v1.Pod, bool, error) {
	patch, changed, err := Patch(pod, s)
	if err != nil || !changed {
		return pod, changed, err
	}
	got, err := c.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return got, true, err
}

func hasCause(err error, field string) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}

// wideRow is what `kubectl get pod -o wide` prints of a pod with no init
// containers, worked out as kubectl's pod printer does.
type wideRow struct {
	Ready    string
	Status   string
	Restarts int32
	IP       string
	Node     string
}

func wide(pod *v1.Pod) wideRow {
	row := wideRow{Status: string(pod.Status.Phase), IP: pod.Status.PodIP, Node: pod.Spec.NodeName}
	if pod.Status.Reason != "" {
		row.Status = pod.Status.Reason
	}
	ready := 0
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		cs := pod.Status.ContainerStatuses[i]
		row.Restarts += cs.RestartCount
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			row.Status = cs.State.Waiting.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			row.Status = cs.State.Terminated.Reason
		case cs.Ready && cs.State.Running != nil:
			ready++
		}
	}
	row.Ready = fmt.Sprintf("%d/%d", ready, len(pod.Spec.Containers))
	return row
}

// TestApiserverTakesThePatches walks a pod through its life on a real
// kube-apiserver, each status going up as the patch edged sends, and
// checks what the apiserver stored.
func TestApiserverTakesThePatches(t *testing.T) {
	const ns = "podstatus-life"
	ctx, client := kubePods(t, ns)
	pod := createPod(ctx, t, client, ns)
	if pod.Status.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("apiserver recorded qosClass %q, want BestEffort", pod.Status.QOSClass)
	}

	crashed := exited("app", 1)
	crashed.ID = "containerd://app-1"
	crashed.Terminated.ContainerID = crashed.ID // as the last state, it names its instance
	restarted := running("app")
	restarted.ID, restarted.RestartCount, restarted.LastTerminated = "containerd://app-2", 1, crashed.Terminated
	done := exited("app", 0)
	done.ID, done.RestartCount, done.LastTerminated = "containerd://app-2", 1, crashed.Terminated
	host := []string{"192.168.1.10"}
	sandbox := func(cs ...Container) Pod {
		return Pod{PodIPs: []string{"10.88.0.7"}, HostIPs: host, SandboxReady: true, Containers: cs}
	}

	steps := []struct {
		name  string
		p     Pod
		phase v1.PodPhase
		row   wideRow
	}{
		{"creating", Pod{HostIPs: host}, v1.PodPending, wideRow{"0/1", "ContainerCreating", 0, "", kubeNode}},
		{"running", sandbox(running("app")), v1.PodRunning, wideRow{"1/1", "Running", 0, "10.88.0.7", kubeNode}},
		{"restarted after a crash", sandbox(restarted), v1.PodRunning, wideRow{"1/1", "Running", 1, "10.88.0.7", kubeNode}},
		{"succeeded", sandbox(done), v1.PodSucceeded, wideRow{"0/1", "Completed", 1, "10.88.0.7", kubeNode}},
	}
	for _, step := range steps {
		step.p.Pod = pod
		s := Build(step.p, time.Now())
		got, changed, err := patchStatus(ctx, client, pod, s)
		if err != nil || !changed {
			t.Fatalf("%s: patch status: changed %v, %v", step.name, changed, err)
		}
		if got.Status.Phase != step.phase {
			t.Errorf("%s: stored phase %s, want %s", step.name, got.Status.Phase, step.phase)
		}
		if row := wide(got); row != step.row {
			t.Errorf("%s: kubectl would show %+v, want %+v", step.name, row, step.row)
		}
		if got.Status.QOSClass != v1.PodQOSBestEffort || got.Status.StartTime == nil || got.Status.HostIP != host[0] {
			t.Errorf("%s: qosClass %q startTime %v hostIP %q", step.name, got.Status.QOSClass, got.Status.StartTime, got.Status.HostIP)
		}
		// What the apiserver stored is what was built: a rebuild from it
		// has nothing to send.
		again := step.p
		again.Pod = got
		if _, changed, err := Patch(got, Build(again, time.Now())); err != nil || changed {
			t.Errorf("%s: rebuilt from the stored pod: changed %v, %v; want no patch", step.name, changed, err)
		}
		pod = got
	}

	cs := pod.Status.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.ContainerID != crashed.ID {
		t.Errorf("stored lastState %+v, want the crash of %s", cs.LastTerminationState, crashed.ID)
	}
	ready := findCondition(pod.Status.Conditions, v1.PodReady)
	if ready == nil || ready.Status != v1.ConditionFalse || ready.Reason != PodCompleted {
		t.Errorf("stored Ready %+v, want False PodCompleted", ready)
	}

	// A succeeded pod stays so: the runtime showing the container again
	// neither moves the phase nor gets a patch out.
	back := sandbox(running("app"))
	back.Pod = pod
	s := Build(back, time.Now())
	if s.Phase != v1.PodSucceeded {
		t.Errorf("phase after Succeeded: %s, want Succeeded kept", s.Phase)
	}
	if _, _, err := Patch(pod, s); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("patch taking a finished container back to running: %v, want ErrIllegalTransition", err)
	}
}

// TestApiserverRefusesAnotherPodsPatch: a pod deleted and created again
// under its name has a new uid, and the uid in a patch built from the old
// one makes the apiserver refuse it (422: metadata.uid is immutable); edged
// must rebuild from the pod the apiserver has now.
func TestApiserverRefusesAnotherPodsPatch(t *testing.T) {
	const ns = "podstatus-uid"
	ctx, client := kubePods(t, ns)
	old := createPod(ctx, t, client, ns)
	zero := int64(0)
	if err := client.CoreV1().Pods(ns).Delete(ctx, old.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	fresh := createPod(ctx, t, client, ns)
	if fresh.UID == old.UID {
		t.Fatal("recreated pod has the old uid")
	}

	stale := Pod{Pod: old, PodIPs: []string{"10.88.0.8"}, SandboxReady: true, Containers: []Container{running("app")}}
	_, _, err := patchStatus(ctx, client, old, Build(stale, time.Now()))
	if !apierrors.IsInvalid(err) || !hasCause(err, "metadata.uid") {
		t.Fatalf("patch with the old pod's uid: %v, want refused as invalid for metadata.uid", err)
	}
	got, err := client.CoreV1().Pods(ns).Get(ctx, fresh.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1.PodPending || got.Status.PodIP != "" {
		t.Errorf("refused patch changed the pod: phase %s podIP %q", got.Status.Phase, got.Status.PodIP)
	}

	stale.Pod = got
	stored, _, err := patchStatus(ctx, client, got, Build(stale, time.Now()))
	if err != nil {
		t.Fatalf("patch rebuilt from the current pod: %v", err)
	}
	if stored.Status.Phase != v1.PodRunning || stored.Status.PodIP != "10.88.0.8" {
		t.Errorf("stored phase %s podIP %q, want Running 10.88.0.8", stored.Status.Phase, stored.Status.PodIP)
	}
}
