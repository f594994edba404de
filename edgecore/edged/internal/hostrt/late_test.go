package hostrt_test

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/internal/hostrt"
	"github.com/edgegate/edgegate/edgecore/model"
)

// collectLimit bounds the wait for the containers of a pod deleted while
// edgecore was down: edged's periodic collection is a minute apart, so a
// pod still there after this was left to it instead of the first pass.
const collectLimit = 30 * time.Second

// Edgecore starts with containerd, not after it, and containerd may
// restart under it. While containerd does not answer, edged removes and
// starts nothing and the node is not ready, naming containerd. Once it
// answers, the containers of the stored pods are adopted (not
// restarted), a stored pod that never ran starts, and the containers of
// a pod the cloud deleted meanwhile are stopped and removed at once, not
// at the next minute's collection. A restart of containerd under a
// running edged leaves the pods' containers as they were.
func TestContainerdLate(t *testing.T) {
	h := hostrt.Start(t).Own(t.TempDir())
	d, err := h.StartDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hostrt.RemoveAndStop(d); err != nil {
			t.Error(err)
		}
	})
	n := newNodeOn(t, h)
	keep := newPod("keep", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	gone := newPod("gone", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	n.bind(keep)
	n.bind(gone)
	before := n.waitPod("keep", "running", allRunning)
	n.waitPod("gone", "running", allRunning)
	kept := strings.TrimPrefix(status(before, "app").ContainerID, "containerd://")

	// Power returns: edgecore comes up while containerd still starts.
	n.stop()
	if err := d.Interrupt(); err != nil {
		t.Fatal(err)
	}
	n.cloud.forget("gone")
	late := newPod("late", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	n.cloud.put(late, model.InsertOperation) // bound while edgecore was down
	n.start()
	waitNotReady(t, n, "containerd")
	time.Sleep(3 * time.Second) // edged runs without containerd for a while, as at boot
	if d, err = h.StartDaemon(); err != nil {
		t.Fatal(err)
	}

	waitGoneWithin(t, n, gone, collectLimit)
	checkKept(t, n, keep, kept)
	n.waitPod("late", "running", allRunning)
	after := n.waitPod("keep", "running", allRunning)
	if cs := status(after, "app"); cs.RestartCount != 0 || cs.ContainerID != status(before, "app").ContainerID {
		t.Errorf("status once containerd answers %+v, want the same container, not restarted", cs)
	}
	waitReady(t, n)

	// containerd restarts under edged.
	if err := d.Interrupt(); err != nil {
		t.Fatal(err)
	}
	waitNotReady(t, n, "containerd")
	time.Sleep(2 * time.Second)
	if d, err = h.StartDaemon(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, n)
	checkKept(t, n, keep, kept)
	if p, _ := n.cloud.pod("keep"); status(p, "app").RestartCount != 0 || !allRunning(p) {
		t.Errorf("after containerd restarted the kept pod is %+v, want running, not restarted", p.Status)
	}
	n.delete("keep", 0)
	n.waitGone(keep)
}

// checkKept: the pod has exactly its container id, still running.
func checkKept(t *testing.T, n *node, p *v1.Pod, id string) {
	t.Helper()
	ctns, err := n.containers(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctns) != 1 || ctns[0].ID != id || ctns[0].State != containerd.Running {
		t.Errorf("pod %s has %+v, want its container %s still running", p.Name, ctns, id)
	}
}

func waitGoneWithin(t *testing.T, n *node, p *v1.Pod, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := n.leftOf(p)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s, deleted while edgecore was down, not removed within %s of containerd answering: %v", p.Name, limit, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNotReady waits until edged says the node is not ready, for a
// reason that names what.
func waitNotReady(t *testing.T, n *node, what string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ok, reason := n.ed.Readiness()
		if !ok && strings.Contains(reason, what) && !strings.Contains(reason, "not checked yet") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness (%v, %q), want not ready naming %s", ok, reason, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitReady(t *testing.T, n *node) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ok, reason := n.ed.Readiness()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within %s: %s", waitLimit, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
