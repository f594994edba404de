package edged

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/model"
)

// patchCloud plays metamanager and the cloud behind it for pod status
// patches: each is applied to pod, as the apiserver applies a
// strategic-merge patch, and the patched pod is answered.
type patchCloud struct {
	t   *testing.T
	b   *bus.Bus
	pod *v1.Pod
}

func (c *patchCloud) serve(ctx context.Context) {
	for {
		msg, err := c.b.Receive(ctx, model.MetaManagerModuleName)
		if err != nil {
			return
		}
		patch, _ := msg.ContentString()
		before, err := json.Marshal(c.pod)
		if err != nil {
			c.t.Error(err)
			return
		}
		after, err := strategicpatch.StrategicMergePatch(before, []byte(patch), v1.Pod{})
		if err != nil {
			c.t.Errorf("patch %s: %v", patch, err)
			return
		}
		next := &v1.Pod{}
		if err := json.Unmarshal(after, next); err != nil {
			c.t.Error(err)
			return
		}
		c.pod = next
		c.b.SendResp(*model.NewRespByMessage(&msg, map[string]any{"Object": next, "Err": nil}))
	}
}

// TestEvictedPhaseReachesTheCloud: the first report after an eviction may
// still see the container running (containerd records the exit a moment
// after the kill), and the patch then holds the Failed phase back, as the
// kubelet's does; the next report, with the container stopped, must send
// it.
func TestEvictedPhaseReachesTheCloud(t *testing.T) {
	b := bus.New()
	defer b.Close()
	for _, m := range []struct{ name, group string }{{model.MetaManagerModuleName, model.MetaGroup}, {model.EdgedModuleName, model.EdgedGroup}} {
		b.AddModule(m.name)
		if err := b.AddModuleGroup(m.name, m.group); err != nil {
			t.Fatal(err)
		}
	}
	m := New(Config{Enable: true, NodeName: "edge-1", PodsDir: t.TempDir(), PodsRunDir: t.TempDir(), RequestTimeout: 2 * time.Second}, b)
	started := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "evicted", UID: "uid-1"},
		Spec:       v1.PodSpec{NodeName: "edge-1", RestartPolicy: v1.RestartPolicyAlways, Containers: []v1.Container{{Name: "main", Image: "podapp"}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, StartTime: &started, ContainerStatuses: []v1.ContainerStatus{{
			Name: "main", Image: "docker.io/library/podapp:latest", ContainerID: "containerd://c1", Ready: true,
			State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: started}},
		}}},
	}
	cloud := &patchCloud{t: t, b: b, pod: pod.DeepCopy()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cloud.serve(ctx) }()
	defer func() { cancel(); <-done }()

	if err := os.MkdirAll(m.vols.PodDir("uid-1"), 0o750); err != nil {
		t.Fatal(err)
	}
	w := newWorker(m, pod)
	w.startTime = started.Time
	w.evict(`Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". `)
	labels := map[string]string{containerd.LabelContainerName: "main", containerd.LabelAttempt: "0", containerd.LabelPodUID: "uid-1"}
	running := instances{"main": {{ID: "c1", Labels: labels, State: containerd.Running, StartedAt: started.Time}}}
	exited := instances{"main": {{ID: "c1", Labels: labels, State: containerd.Exited, StartedAt: started.Time,
		Exit: &containerd.Exit{Code: 0, Reason: "Completed", StartedAt: started.Time, FinishedAt: time.Now()}}}}

	w.report(ctx, pod, running, true)
	if cloud.pod.Status.Phase != v1.PodRunning {
		t.Fatalf("phase %s with the container running, want Running (held back)", cloud.pod.Status.Phase)
	}
	w.report(ctx, pod, exited, true)
	if s := cloud.pod.Status; s.Phase != v1.PodFailed || s.Reason != reasonEvicted || s.Message == "" {
		t.Fatalf("the cloud has phase %s reason %q message %q, want Failed, Evicted and the message", s.Phase, s.Reason, s.Message)
	}
}
