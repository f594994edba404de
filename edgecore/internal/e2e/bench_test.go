package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// connectedNode starts a cloud and an edgecore joined to it.
func connectedNode(b *testing.B, qps int) (*testcloud.Cloud, *node, *proc) {
	b.Helper()
	// No resends during the run: every ack must come from a first delivery.
	cloud := newCloud(b, testcloud.Options{ResendInterval: 10 * time.Minute, KeepaliveTimeout: time.Minute})
	n := newNodeQPS(b, cloud, token(b, cloud, time.Hour), qps)
	p := n.start(b)
	waitCloud(b, cloud, "connected", 30*time.Second, func(v *testcloud.View) bool { return v.Connected(n.name) })
	return cloud, n, p
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// benchCloudToAck sends pod updates one at a time and times each from the
// cloud's write to the edge's ack (persisted in bbolt, fsynced, then acked).
func benchCloudToAck(b *testing.B, qps int) {
	cloud, n, _ := connectedNode(b, qps)
	spec := map[string]any{"nodeName": n.name, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m := testcloud.PodMessage(model.UpdateOperation, "default", "bench", "uid-bench", strconv.Itoa(1000+i), spec)
		sent := time.Now()
		if err := cloud.Send(n.name, m); err != nil {
			b.Fatal(err)
		}
		waitCloud(b, cloud, "ack", 30*time.Second, func(v *testcloud.View) bool { return v.Acks(m.Header.ID) == 1 })
		lat = append(lat, time.Since(sent))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkCloudToAck uses KubeEdge's default write limit (30/s, burst 60),
// which caps acks once the burst is spent.
func BenchmarkCloudToAck(b *testing.B) { benchCloudToAck(b, 30) }

// BenchmarkCloudToAckUnthrottled raises messageQPS to show the path itself.
func BenchmarkCloudToAckUnthrottled(b *testing.B) { benchCloudToAck(b, 100000) }

// BenchmarkExecToConnected times exec of edgecore (certificates already on
// disk) until the cloud holds its websocket session.
func BenchmarkExecToConnected(b *testing.B) {
	cloud, n, p := connectedNode(b, 30)
	p.stop(b)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		var before int
		cloud.Inspect(func(v *testcloud.View) { before = v.Connects(n.name) })
		start := time.Now()
		q := n.start(b)
		waitCloud(b, cloud, "connected", 30*time.Second, func(v *testcloud.View) bool {
			return v.Connects(n.name) > before && v.Connected(n.name)
		})
		total += time.Since(start)
		b.StopTimer()
		q.stop(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/connect")
}

// BenchmarkIdleFootprint measures a connected, idle edgecore after 60 s
// (EDGEGATE_IDLE_WAIT overrides): resident set in total and anonymous, from
// /proc/<pid>/status. Run it with -benchtime=1x. (The binary's size, as
// the gateway carries it, is cmd/edgecore's BenchmarkBinarySize.)
func BenchmarkIdleFootprint(b *testing.B) {
	wait := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("EDGEGATE_IDLE_WAIT")); err == nil {
		wait = d
	}
	_, _, p := connectedNode(b, 30)
	for range b.N {
		time.Sleep(wait)
	}
	status, err := procStatus(p.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(status["VmRSS"])/1024, "rss-MiB")
	b.ReportMetric(float64(status["RssAnon"])/1024, "anon-MiB")
}

// procStatus reads the kB fields of /proc/<pid>/status.
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			out[k] = n
		}
	}
	return out, sc.Err()
}

// BenchmarkExecToNode times, for a node joining for the first time (join
// token, certificate bootstrap, then registration), exec of edgecore until
// the API server holds the node object and until it is Ready, as kubectl
// would see them. Each iteration is a new node. Reported: medians.
func BenchmarkExecToNode(b *testing.B) {
	cloud := newCloud(b, testcloud.Options{})
	var created, ready []time.Duration
	for i := range b.N {
		n := newNodeOpts(b, cloud, token(b, cloud, time.Hour), nodeOptions{name: fmt.Sprintf("%s-%d", nodeNameFor(b), i)})
		start := time.Now()
		p := n.start(b)
		var sawNode bool
		waitKube(b, "node Ready", 20*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
			node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !sawNode {
				sawNode = true
				created = append(created, time.Since(start))
			}
			if nodeReady(node) {
				ready = append(ready, time.Since(start))
				return true, nil
			}
			return false, nil
		})
		b.StopTimer()
		p.stop(b)
		b.StartTimer()
	}
	slices.Sort(created)
	slices.Sort(ready)
	b.ReportMetric(float64(percentile(created, 0.5).Microseconds())/1000, "ms-to-node")
	b.ReportMetric(float64(percentile(ready, 0.5).Microseconds())/1000, "ms-to-ready")
}

// BenchmarkIdleNodeTraffic counts what an idle, registered node costs the
// cloud per hour: messages on the link and writes to the API server. The
// kubelet timers run ten times faster than KubeEdge's defaults (status
// computed every 1 s, reported on change or every 30 s; lease of 4 s
// renewed every 1 s) for 60 s, which is 10 minutes of a default node, and
// the counts are scaled to an hour; keepalives keep the default 15 s and
// are scaled from the 60 s. Run it with -benchtime=1x.
func BenchmarkIdleNodeTraffic(b *testing.B) {
	const window, speedup = 60 * time.Second, 10
	cloud := newCloud(b, testcloud.Options{})
	n := newNodeOpts(b, cloud, token(b, cloud, time.Hour), nodeOptions{heartbeat: 15,
		kubelet: "      nodeStatusReportFrequency: 30s\n      nodeLeaseDurationSeconds: 4"})
	n.start(b)
	waitKube(b, "node Ready", 20*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && nodeReady(node), err
	})
	var start, end trafficCount
	cloud.Inspect(func(v *testcloud.View) { start = countTraffic(v, n.name) })
	for range b.N {
		time.Sleep(window)
	}
	cloud.Inspect(func(v *testcloud.View) { end = countTraffic(v, n.name) })
	perHour := func(d int, speed float64) float64 { return float64(d) * (float64(time.Hour) / float64(window)) / speed }
	d := func(f func(trafficCount) int) int { return f(end) - f(start) }
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.lease }), speedup), "lease/h")
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.status }), speedup), "status/h")
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.acks }), speedup), "acks/h")
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.other }), speedup), "other/h")
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.keepalive }), 1), "keepalive/h")
	b.ReportMetric(perHour(d(func(c trafficCount) int { return c.writes }), speedup), "apiserver-writes/h")
}

// trafficCount counts a node's upstream frames by kind: lease requests,
// status patches, acks of cloud messages (replies included, as KubeEdge's
// metamanager acks every reply it stores), keepalives, the rest; and the
// API server writes made for them.
type trafficCount struct{ lease, status, acks, keepalive, other, writes int }

func countTraffic(v *testcloud.View, node string) trafficCount {
	var c trafficCount
	for _, u := range v.Upstream() {
		if u.Node != node {
			continue
		}
		switch res := u.Msg.Resource(); {
		case u.Msg.Operation() == model.KeepaliveOperation:
			c.keepalive++
		case u.Msg.Operation() == model.ResponseOperation:
			c.acks++
		case strings.HasPrefix(res, model.NodeLeaseNamespace+"/"+model.ResourceTypeLease+"/"):
			c.lease++
		case strings.Contains(res, "/"+model.ResourceTypeNodePatch+"/"):
			c.status++
		default:
			c.other++
		}
	}
	c.writes = v.APIWrites()
	return c
}
