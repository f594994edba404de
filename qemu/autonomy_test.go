package qemu

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/edgegate/edgegate/boards"
)

// TestPodsAutonomy is what KubeEdge users ask of an edge first: pods that
// keep running without the cloud. On an arm64 gateway, a pod "keep"
// serving on the web hostPort (with hostPID, so that it can see the
// gateway's processes through /proc):
//
//   - edgecore is killed (SIGKILL, by the pod): init restarts it, and edged
//     adopts the running container instead of restarting it; the cloud
//     still sees the same container and no restart;
//   - the cloud goes away and the gateway reboots: the pod runs again from
//     the store, before any link to the cloud;
//   - the cloud comes back: the status is resynced (the new container, one
//     restart for the reboot) and the container is not recreated for it;
//   - the pod is deleted and the gateway rebooted: it does not come back;
//     its image, used by no container now, is garbage-collected.
//
// On the way, a pod deleted takes its logs in /var/log/pods with it.
func TestPodsAutonomy(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU with containerd three times and runs a Kubernetes API server and a registry")
	}
	c := newPodCluster(t)
	// Image garbage collection at any disk use: an image goes as soon as
	// no container uses it.
	n := bootPodNodeWith(t, c, boards.QEMUArm64(), nodeSettings{prefix: "gw-offline",
		kubelet: "      imageGCHighThresholdPercent: 1\n      imageGCLowThresholdPercent: 0"})
	n.createObjects(t)
	created := time.Now()
	n.create(t, n.keepPod())
	pod := n.waitPod(t, "keep", "Running and Ready", created, runningReady)
	first := containerStatus(pod.Status.ContainerStatuses, "app").ContainerID
	n.checkLogsRemoved(t)

	// edgecore dies; the container it started lives on and is adopted.
	killed := n.webPost(t, "/kill?name=edgecore")
	t.Logf("killed edgecore, pid %s", strings.TrimSpace(killed))
	expectWithin(t, n.m, `service edgecore exited`, ctrdTimeout)
	n.waitConnected(t)
	expectWithin(t, n.m, `adopted running container app \(`+strings.TrimPrefix(first, "containerd://")+`\)`, ctrdTimeout)
	n.checkSameContainer(t, first, 0, 15*time.Second)

	// The cloud goes away, the gateway reboots: the pod runs again.
	n.cloud.Down()
	powerdown(t, n.m)
	n.boot(t)
	if _, ok := n.webGetWithin(t, "/healthz", ctrdTimeout); !ok {
		t.Fatal("keep does not run after an offline reboot")
	}
	if strings.Contains(n.m.Console.String(), "edgehub: connected") {
		t.Fatal("the cloud was reachable: the reboot was not offline")
	}
	t.Logf("keep serves %s after the offline boot", time.Since(n.m.Started).Round(time.Second))

	// The cloud comes back: the status catches up, nothing is recreated.
	if err := n.cloud.Up(); err != nil {
		t.Fatal(err)
	}
	n.waitConnected(t)
	resynced := time.Now()
	pod = n.waitPod(t, "keep", "Running with the rebooted container", resynced, func(p *v1.Pod) bool {
		cs := containerStatus(p.Status.ContainerStatuses, "app")
		return runningReady(p) && cs != nil && cs.ContainerID != first && cs.RestartCount == 1
	})
	n.checkSameContainer(t, containerStatus(pod.Status.ContainerStatuses, "app").ContainerID, 1, 15*time.Second)

	// Deleted in the cloud, then a reboot: it stays gone.
	if err := n.kube.Client().CoreV1().Pods(n.ns).Delete(t.Context(), "keep", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone(t, "keep")
	powerdown(t, n.m)
	n.boot(t)
	n.waitConnected(t)
	n.waitNodeReady(t)
	n.checkNotServing(t, 20*time.Second)

	// No container uses podapp any more: garbage collection removed it,
	// so a pod that must not pull finds no image.
	expectWithin(t, n.m, `edged: removed unused image `+strings.ReplaceAll(n.image("v1"), ".", `\.`), ctrdTimeout)
	never := n.container("main", "sleep", "1h")
	never.ImagePullPolicy = v1.PullNever
	created = time.Now()
	n.create(t, n.pod("never", v1.RestartPolicyAlways, never))
	n.waitPod(t, "never", "waiting in ErrImageNeverPull", created, waitingFor("ErrImageNeverPull"))
	powerdown(t, n.m)
}

// checkLogsRemoved runs a pod, finds its log directory on the gateway
// through keep's view of /var/log/pods, deletes it and checks its logs
// went with it.
func (n *podNode) checkLogsRemoved(t *testing.T) {
	t.Helper()
	created := time.Now()
	n.create(t, n.pod("victim", v1.RestartPolicyAlways, n.container("app", "log", "3")))
	pod := n.waitPod(t, "victim", "running", created, containersRunning)
	dir := fmt.Sprintf("%s_victim_%s", n.ns, pod.UID)
	if list, _ := n.webGet(t, "/ls?path=/hostlogs"); !strings.Contains(list, dir) {
		t.Fatalf("no log directory %s for victim in /var/log/pods:\n%s", dir, list)
	}
	if files, _ := n.webGet(t, "/ls?path=/hostlogs/"+dir+"/app"); strings.TrimSpace(files) != "0.log" {
		t.Errorf("victim's app logs: %q, want 0.log", files)
	}
	if err := n.kube.Client().CoreV1().Pods(n.ns).Delete(t.Context(), "victim", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitGone(t, "victim")
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		list, _ := n.webGet(t, "/ls?path=/hostlogs")
		if !strings.Contains(list, dir) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("victim's logs %s are still there after its deletion:\n%s", dir, list)
		}
	}
}

// keepPod serves on the web hostPort and sees the gateway's processes
// and, read-only, its pod logs.
func (n *podNode) keepPod() *v1.Pod {
	app := n.container("app", "serve", "--port", "8080")
	app.Ports = []v1.ContainerPort{{ContainerPort: 8080, HostPort: webHostPort}}
	app.ReadinessProbe = &v1.Probe{
		ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 2,
	}
	app.VolumeMounts = []v1.VolumeMount{{Name: "logs", MountPath: "/hostlogs", ReadOnly: true}}
	// SYS_PTRACE lets /procs read the proportional memory of the
	// gateway's processes (smaps_rollup needs ptrace access).
	app.SecurityContext = &v1.SecurityContext{Capabilities: &v1.Capabilities{Add: []v1.Capability{"SYS_PTRACE"}}}
	pod := n.pod("keep", v1.RestartPolicyAlways, app)
	pod.Spec.HostPID = true
	pod.Spec.Volumes = []v1.Volume{{Name: "logs", VolumeSource: v1.VolumeSource{
		HostPath: &v1.HostPathVolumeSource{Path: "/var/log/pods"}}}}
	return pod
}

// checkSameContainer watches the API server for a while: the pod stays
// Running and Ready with container id and restarts.
func (n *podNode) checkSameContainer(t testing.TB, id string, restarts int32, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		pod := n.getPodOrFail(t, "keep")
		cs := containerStatus(pod.Status.ContainerStatuses, "app")
		if !runningReady(pod) || cs == nil || cs.ContainerID != id || cs.RestartCount != restarts {
			t.Fatalf("keep changed: want container %s with %d restarts, Running and Ready\n%s", id, restarts, n.describe(pod))
		}
	}
}

// waitGone waits until the API server no longer has the pod: the edge
// confirmed its deletion.
func (n *podNode) waitGone(t testing.TB, name string) {
	t.Helper()
	began := time.Now()
	for {
		if _, err := n.getPod(t, name); err != nil {
			t.Logf("pod %s gone %s after its deletion", name, time.Since(began).Round(100*time.Millisecond))
			return
		}
		if time.Since(began) > ctrdTimeout {
			t.Fatalf("pod %s still in the API server %s after its deletion", name, ctrdTimeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkNotServing fails if anything answers on the web hostPort for d.
func (n *podNode) checkNotServing(t testing.TB, d time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.webPort)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		if body, err := httpGet(t.Context(), client, url); err == nil {
			t.Fatalf("a deleted pod serves again after a reboot: %q\n--- console tail ---\n%s", body, tail(n.m.Console.String(), 6000))
		}
	}
}

// webPost posts to the pod behind the web hostPort and returns the body.
func (n *podNode) webPost(t testing.TB, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", n.webPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", path, resp.Status, body)
	}
	return string(body)
}
