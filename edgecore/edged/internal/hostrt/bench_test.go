package hostrt_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/edged/internal/hostrt"
)

// startPods is how many pods BenchmarkPodStartHost starts one after
// another, as the QEMU benchmark does.
const startPods = 20

// BenchmarkPodStartHost runs pods of one container with the image present
// on the host's containerd, one after another, and reports bind message
// received by edged → a status patch with every container running leaves
// edged (p50 and p90), next to the floor measured in the same run: the
// same container created and its task started through containerd's client
// without edged (no pod network, volumes or status), p50 and p90. A first
// pod, not measured, sets the bridge up, as the first pod of a gateway
// does.
func BenchmarkPodStartHost(b *testing.B) {
	n := newNode(b)
	warm := newPod("warm", v1.RestartPolicyAlways, app("app", "sleep", "1h"))
	n.bind(warm)
	n.waitPod("warm", "running", allRunning)

	pods := []*v1.Pod{warm}
	var start []float64
	b.ResetTimer()
	for i := range startPods {
		name := fmt.Sprintf("start-%02d", i)
		p := newPod(name, v1.RestartPolicyAlways, app("app", "sleep", "1h"))
		pods = append(pods, p)
		sent := n.bind(p)
		n.waitPod(name, "running", allRunning)
		running, _ := n.cloud.runningAt(name)
		start = append(start, running.Sub(sent).Seconds())
	}
	b.StopTimer()
	floor := containerdFloor(b, n.h)
	b.ReportMetric(percentile(start, 50), "start-p50-s")
	b.ReportMetric(percentile(start, 90), "start-p90-s")
	b.ReportMetric(percentile(floor, 50), "ctrd-floor-p50-s")
	b.ReportMetric(percentile(floor, 90), "ctrd-floor-p90-s")
	b.ReportMetric(0, "ns/op")
	for _, p := range pods {
		n.delete(p.Name, 0)
	}
	for _, p := range pods {
		n.waitGone(p)
	}
}

// containerdFloor creates and starts the benchmark's container startPods
// times straight through containerd's client, and returns how long each
// took; the containers are removed afterwards.
func containerdFloor(b *testing.B, h hostrt.Host) []float64 {
	c := h.Client(b)
	ctx := context.Background()
	img, err := c.GetImage(ctx, hostrt.ImageRef)
	if err != nil {
		b.Fatal(err)
	}
	var took []float64
	for i := range startPods {
		id := fmt.Sprintf("floor-%02d", i)
		began := time.Now()
		ctn, err := c.NewContainer(ctx, id,
			client.WithImage(img),
			client.WithSnapshotter("overlayfs"),
			client.WithNewSnapshot(id, img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("/podapp", "sleep", "1h"),
				oci.WithCgroup(hostrt.CgroupParent+"/floor/"+id)))
		if err != nil {
			b.Fatal(err)
		}
		task, err := ctn.NewTask(ctx, cio.NullIO)
		if err == nil {
			err = task.Start(ctx)
		}
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(began).Seconds())
		b.Cleanup(func() {
			task.Delete(context.Background(), client.WithProcessKill)
			ctn.Delete(context.Background(), client.WithSnapshotCleanup)
		})
	}
	return took
}

// percentile is the nearest-rank percentile, as the QEMU benchmark's.
func percentile(xs []float64, p int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}
