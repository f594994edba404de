package e2e

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/internal/testcloud"
	"github.com/edgegate/edgegate/edgecore/model"
)

// connectedNode starts a cloud and an edgecore joined to it.
func connectedNode(b *testing.B, qps int) (*testcloud.Cloud, *node, *proc) {
	b.Helper()
	// No resends during the run: every ack must come from a first delivery.
	cloud := testcloud.ForTest(b, testcloud.Options{ResendInterval: 10 * time.Minute, KeepaliveTimeout: time.Minute})
	n := newNodeQPS(b, cloud, token(b, cloud, time.Hour), qps)
	p := n.start(b)
	waitCloud(b, cloud, "connected", 30*time.Second, func(v *testcloud.View) bool { return v.Connected(nodeName) })
	return cloud, n, p
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// benchCloudToAck sends pod updates one at a time and times each from the
// cloud's write to the edge's ack (persisted in bbolt, fsynced, then acked).
func benchCloudToAck(b *testing.B, qps int) {
	cloud, _, _ := connectedNode(b, qps)
	spec := map[string]any{"nodeName": nodeName, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m := testcloud.PodMessage(model.UpdateOperation, "default", "bench", "uid-bench", strconv.Itoa(1000+i), spec)
		sent := time.Now()
		if err := cloud.Send(nodeName, m); err != nil {
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
		cloud.Inspect(func(v *testcloud.View) { before = v.Connects(nodeName) })
		start := time.Now()
		q := n.start(b)
		waitCloud(b, cloud, "connected", 30*time.Second, func(v *testcloud.View) bool {
			return v.Connects(nodeName) > before && v.Connected(nodeName)
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
// /proc/<pid>/status, and the binary's size. Run it with -benchtime=1x.
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
	st, err := os.Stat(binary)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(status["VmRSS"])/1024, "rss-MiB")
	b.ReportMetric(float64(status["RssAnon"])/1024, "anon-MiB")
	b.ReportMetric(float64(st.Size())/(1<<20), "binary-MiB")
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
