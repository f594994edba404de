package hostrt_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/internal/hostrt"
)

// A pod of two containers runs on the pod network with its memory limit
// in its cgroup (v1 or v2, whichever the host has) and its output in the
// container log; a deletion removes every trace of it.
func TestPodRuns(t *testing.T) {
	n := newNode(t)
	limited := app("limited", "sleep", "1h")
	limited.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}
	p := newPod("web", v1.RestartPolicyAlways, limited, app("talker", "log", "3"))
	n.bind(p)
	got := n.waitPod("web", "running", allRunning)

	_, subnet, _ := net.ParseCIDR(n.h.Daemon.Subnet)
	if ip := net.ParseIP(got.Status.PodIP); ip == nil || !subnet.Contains(ip) {
		t.Errorf("pod IP %q, want one of the bridge's %s", got.Status.PodIP, subnet)
	}
	ctns, err := n.containers(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctns) != 2 {
		t.Fatalf("containerd holds %d containers of the pod, want 2: %+v", len(ctns), ctns)
	}
	for _, c := range ctns {
		if c.State != containerd.Running {
			t.Errorf("container %s (%s) is not running", c.Labels[containerd.LabelContainerName], c.ID)
		}
		if c.Labels[containerd.LabelContainerName] == "limited" {
			checkMemoryLimit(t, "/edgegate/pod"+string(p.UID)+"/"+c.ID, 64<<20)
		}
	}
	log := containerlog.Path(n.cfg.LogsDir, namespace, "web", string(p.UID), "talker", 0)
	waitFileHas(t, log, "podapp: log line 3 of 3")

	n.delete("web", 0)
	n.waitGone(p)
}

// checkMemoryLimit reads the container's memory limit from its cgroup.
func checkMemoryLimit(t *testing.T, cgroup string, want int64) {
	t.Helper()
	file := "memory.limit_in_bytes"
	if hostrt.CgroupV2() {
		file = "memory.max"
	}
	path := filepath.Join(hostrt.CgroupDir(cgroup, "memory"), file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("memory limit: %v", err)
		return
	}
	if got, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err != nil || got != want {
		t.Errorf("%s = %q, want %d", path, data, want)
	}
}

// Exits follow the restart policy: Always restarts a failed container at
// once (the first crash-loop step) and reports the exit as its lastState;
// Never leaves it terminated and the pod Failed.
func TestRestartOnExit(t *testing.T) {
	n := newNode(t)
	always := newPod("crash", v1.RestartPolicyAlways, app("app", "exit", "1"))
	never := newPod("once", v1.RestartPolicyNever, app("app", "exit", "3"))
	n.bind(always)
	n.bind(never)

	got := n.waitPod("crash", "restarted", func(p *v1.Pod) bool { return status(p, "app").RestartCount >= 1 })
	last := status(got, "app").LastTerminationState.Terminated
	if last == nil || last.ExitCode != 1 || last.Reason != "Error" {
		t.Errorf("lastState %+v, want terminated with exit code 1, reason Error", last)
	}
	got = n.waitPod("once", "Failed", func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
	if cs := status(got, "app"); cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 {
		t.Errorf("container status %+v, want terminated with exit code 3 and no restart", cs)
	}
	n.delete("crash", 0)
	n.delete("once", 0)
	n.waitGone(always)
	n.waitGone(never)
}

// A deletion stops the containers with the grace period: SIGTERM first
// (a container that exits on it ends at once, with 0), SIGKILL once the
// grace period is over (137); the deletion is confirmed to the cloud once
// both ended, with their final states in the last status.
func TestStopWithGrace(t *testing.T) {
	n := newNode(t)
	const grace = 3 * time.Second
	p := newPod("stop", v1.RestartPolicyAlways,
		app("polite", "sleep", "1h"),
		app("stubborn", "sleep", "1h", "--term-delay", "1h"))
	n.bind(p)
	n.waitPod("stop", "running", allRunning)

	deleted := n.delete("stop", int64(grace/time.Second))
	n.waitGone(p)
	if d := n.cloud.deletionConfirmedAt("stop").Sub(deleted); d < grace {
		t.Errorf("deletion confirmed %s after it was asked, before the grace period of %s was over", d, grace)
	}
	final, _ := n.cloud.pod("stop")
	polite, stubborn := status(final, "polite").State.Terminated, status(final, "stubborn").State.Terminated
	// FinishedAt has a resolution of a second on the wire.
	if polite == nil || polite.ExitCode != 0 {
		t.Errorf("polite container: %+v, want exit 0 after SIGTERM", polite)
	} else if d := polite.FinishedAt.Sub(deleted); d > grace-time.Second {
		t.Errorf("polite container ended %s after the deletion, want at once on SIGTERM", d)
	}
	if stubborn == nil || stubborn.ExitCode != 137 {
		t.Errorf("stubborn container's last status %+v, want terminated with exit 137 (SIGKILL)", status(final, "stubborn").State)
	} else if d := stubborn.FinishedAt.Sub(deleted); d < grace-time.Second {
		t.Errorf("stubborn container killed %s after the deletion, before its grace period of %s", d, grace)
	}
}

// After an edgecore restart the containers of a pod still in the store
// are adopted, not restarted, and those of a pod the cloud deleted
// meanwhile are stopped and removed, network namespace included.
func TestRestartAdoptsAndCollects(t *testing.T) {
	n := newNode(t)
	keep := newPod("keep", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	gone := newPod("gone", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	n.bind(keep)
	n.bind(gone)
	before := n.waitPod("keep", "running", allRunning)
	n.waitPod("gone", "running", allRunning)

	n.stop()
	n.cloud.forget("gone")
	n.start()

	n.waitGone(gone)
	ctns, err := n.containers(keep)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(status(before, "app").ContainerID, "containerd://"); len(ctns) != 1 || ctns[0].ID != want || ctns[0].State != containerd.Running {
		t.Errorf("after the restart the kept pod has %+v, want its container %s still running", ctns, want)
	}
	after := n.waitPod("keep", "running", allRunning)
	if cs := status(after, "app"); cs.RestartCount != 0 || cs.ContainerID != status(before, "app").ContainerID {
		t.Errorf("status after the restart %+v, want the same container, not restarted", cs)
	}
	n.delete("keep", 0)
	n.waitGone(keep)
}

// A container over its memory limit is killed by the kernel and reported
// OOMKilled, on a cgroup v1 host as on a gateway.
func TestOOMKilled(t *testing.T) {
	n := newNode(t)
	hog := app("hog", "alloc", "256")
	hog.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse("32Mi")}
	p := newPod("hog", v1.RestartPolicyNever, hog)
	n.bind(p)
	got := n.waitPod("hog", "terminated", func(p *v1.Pod) bool { return status(p, "hog").State.Terminated != nil })
	if term := status(got, "hog").State.Terminated; term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("terminated %+v, want OOMKilled with exit code 137", term)
	}
	n.delete("hog", 0)
	n.waitGone(p)
}

func waitFileHas(t *testing.T, path, text string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q within %s: %q, %v", path, text, waitLimit, data, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
