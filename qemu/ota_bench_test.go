package qemu

import (
	"context"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
)

// BenchmarkOTAUpdate updates an arm64 gateway from build N to N+1 over
// QEMU's loopback forward: push → the new slot committed after its trial
// boot (the boot before the push is not timed), next to the bytes the
// push carried and the slot image they became.
func BenchmarkOTAUpdate(b *testing.B) {
	board, err := boards.Lookup("qemu-arm64")
	if err != nil {
		b.Fatal(err)
	}
	data := otaBundle(b, board, otaBuildN1)
	var total, push []float64
	var imageSize int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g := startOTAGateway(b, board, otaDisk(b, board, otaBuildN))
		g.settle(b)
		b.StartTimer()
		began := time.Now()
		res, err := g.push(b, data)
		if err != nil {
			b.Fatal(err)
		}
		pushed := time.Since(began)
		ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
		st, err := g.client.WaitOutcome(ctx, res)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st.Running != res.Slot || st.Build != otaBuildN1 {
			b.Fatalf("after the update: %+v", st)
		}
		total = append(total, time.Since(began).Seconds())
		push = append(push, pushed.Seconds())
		imageSize = res.ImageSize
		g.m.Close()
	}
	b.ReportMetric(median(total), "update-s")
	b.ReportMetric(median(push), "push-s")
	b.ReportMetric(mib(int64(len(data))), "wire-MiB")
	b.ReportMetric(mib(imageSize), "slot-MiB")
	b.ReportMetric(100*float64(len(data))/float64(imageSize), "wire-%")
	b.ReportMetric(0, "ns/op") // update-s is the time per update
}
