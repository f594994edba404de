package qemu

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// startPods is how many pods BenchmarkPodStart starts one after another.
const startPods = 20

// BenchmarkPodStart runs pods on an arm64 gateway with their image
// present, one after another, and reports pod created in the API server →
// the cloud sees its container running (p50 and p90), next to the floor of
// the same path: created → the edge acknowledged the pod (the cloud's
// delivery and the link, no container work). It also reports edgecore's
// resident memory idle and with 10 and 20 pods running (read from /proc by
// a hostPID pod), and the memory of one container's shim with 20 pods: its
// resident set, and its proportional share (what one more pod costs, since
// the shims share the pages of one binary).
func BenchmarkPodStart(b *testing.B) {
	c := newPodCluster(b)
	n := bootPodNodeWith(b, c, boards.QEMUArm64(), nodeSettings{prefix: "gw-bench"})
	n.createObjects(b)
	created := time.Now()
	n.create(b, n.keepPod()) // pulls the image; serves /procs
	n.waitPod(b, "keep", "Running and Ready", created, runningReady)
	time.Sleep(10 * time.Second) // let the pull's garbage settle
	rssIdle := n.edgecoreRSS(b)

	var start, ack []float64
	var rss10 float64
	b.ResetTimer()
	for i := range startPods {
		name := fmt.Sprintf("start-%02d", i)
		pod := n.pod(name, v1.RestartPolicyAlways, n.container("app", "sleep", "1h"))
		began := time.Now()
		n.create(b, pod)
		ack = append(ack, n.waitAcked(b, name, began).Seconds())
		n.waitPod(b, name, "running", began, containersRunning)
		start = append(start, time.Since(began).Seconds())
		if i == 9 {
			rss10 = n.edgecoreRSS(b)
		}
	}
	b.StopTimer()
	rss20 := n.edgecoreRSS(b)
	shimRSS, shimPSS, pssKnown := n.shimMemory(b)
	b.ReportMetric(percentile(start, 50), "start-p50-s")
	b.ReportMetric(percentile(start, 90), "start-p90-s")
	b.ReportMetric(percentile(ack, 50), "ack-floor-p50-s")
	b.ReportMetric(rssIdle, "edgecore-rss-idle-MiB")
	b.ReportMetric(rss10, "edgecore-rss-10pods-MiB")
	b.ReportMetric(rss20, "edgecore-rss-20pods-MiB")
	b.ReportMetric(shimRSS, "shim-rss-MiB-each")
	if pssKnown {
		b.ReportMetric(shimPSS, "shim-pss-MiB-each")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMaxPods fills a 1 GiB arm64 gateway with pods, ten at a time,
// until a batch does not all run within ctrdTimeout (or 200 pods), and
// reports how many ran at once.
func BenchmarkMaxPods(b *testing.B) {
	c := newPodCluster(b)
	n := bootPodNodeWith(b, c, boards.QEMUArm64(), nodeSettings{prefix: "gw-max", memoryMiB: 1024})
	n.createObjects(b)
	created := time.Now()
	n.create(b, n.keepPod())
	n.waitPod(b, "keep", "Running and Ready", created, runningReady)
	running := 1
	b.ResetTimer()
	for running < 200 {
		began := time.Now()
		var batch []string
		for i := range 10 {
			name := fmt.Sprintf("fill-%03d", running+i)
			n.create(b, n.pod(name, v1.RestartPolicyAlways, n.container("app", "sleep", "1h")))
			batch = append(batch, name)
		}
		if !n.allRunning(b, batch, ctrdTimeout) {
			break
		}
		running += len(batch)
		b.Logf("%d pods running (batch of 10 in %s), edgecore %.1f MiB", running, time.Since(began).Round(time.Second), n.edgecoreRSS(b))
	}
	b.StopTimer()
	b.ReportMetric(float64(running), "pods-running-1GiB")
	b.ReportMetric(0, "ns/op")
}

// containersRunning: every container of the pod runs.
func containersRunning(p *v1.Pod) bool {
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// allRunning waits until every pod of names has its containers running.
func (n *podNode) allRunning(t testing.TB, names []string, d time.Duration) bool {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		all := true
		for _, name := range names {
			p, err := n.getPod(t, name)
			if err != nil || !containersRunning(p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// waitAcked waits until the edge acknowledged the pod's insert (the
// cloud's ObjectSync holds its version) and returns how long after began.
func (n *podNode) waitAcked(t testing.TB, name string, began time.Time) time.Duration {
	t.Helper()
	resource := model.BuildResource(n.ns, model.ResourceTypePod, name)
	for {
		acked := false
		n.cloud.Inspect(func(v *testcloud.View) { acked = v.Synced(resource) != "" })
		if acked {
			return time.Since(began)
		}
		if time.Since(began) > ctrdTimeout {
			t.Fatalf("pod %s never acknowledged by the edge", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edgecoreRSS is edgecore's resident memory in MiB, as the keep pod
// reads it from the gateway's /proc.
func (n *podNode) edgecoreRSS(t testing.TB) float64 {
	t.Helper()
	body, ok := n.webGet(t, "/procs?name=edgecore")
	if !ok {
		t.FailNow()
	}
	fields := strings.Fields(body)
	if len(fields) < 2 {
		t.Fatalf("/procs?name=edgecore answered %q", body)
	}
	kb, err := strconv.ParseFloat(fields[1], 64)
	if err != nil {
		t.Fatalf("/procs?name=edgecore answered %q", body)
	}
	return kb / 1024
}

// shimComm is the command name of a container's shim: the runc v2 shim
// re-executes the edgegate-containerd binary, and comm keeps 15 bytes.
const shimComm = "edgegate-contai"

// shimMemory returns the mean resident set and proportional set of the
// gateway's shims in MiB. The daemon runs under the name containerd, so
// every process of that command name is a shim. The proportional set needs
// ptrace access to the shims; pssKnown says whether it could be read.
func (n *podNode) shimMemory(t testing.TB) (rss, pss float64, pssKnown bool) {
	t.Helper()
	body, ok := n.webGet(t, "/procs?name="+shimComm)
	if !ok {
		t.FailNow()
	}
	var count int
	pssKnown = true
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("/procs?name=%s answered %q", shimComm, body)
		}
		r, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("/procs?name=%s answered %q", shimComm, body)
		}
		p, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			pssKnown = false
		}
		rss, pss, count = rss+r, pss+p, count+1
	}
	if count == 0 {
		t.Fatalf("no shim process (%s) on the gateway", shimComm)
	}
	rss, pss = rss/1024/float64(count), pss/1024/float64(count)
	if !pssKnown {
		t.Logf("%d shims: %.1f MiB resident each; their proportional memory could not be read", count, rss)
		return rss, 0, false
	}
	t.Logf("%d shims: %.1f MiB resident, %.1f MiB proportional each", count, rss, pss)
	return rss, pss, true
}

// percentile of xs (nearest rank).
func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}
