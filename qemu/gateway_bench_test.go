package qemu

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
)

// BenchmarkGateway boots each board's gateway as `edgegate build` makes it
// with a cloud to join (containerd, and edgecore with edged, no pods),
// against the test cloud on the host, reached through QEMU's user network
// at 10.0.2.2. The first boot joins (token, certificate) and is not
// timed; each timed boot of the same disk, as after a power cut, reports
// QEMU start → edgecore connected to the cloud (medians, next to
// BenchmarkBoot's floor of the same run). The last boot then stays up
// idle and reports the gateway's used memory, MemTotal − MemAvailable,
// 60 s after its ready line, as init prints it. The median boot's
// timeline goes to the log for cmd/benchreport.
func BenchmarkGateway(b *testing.B) {
	for _, board := range emulatedB(b) {
		b.Run(board.Name, func(b *testing.B) {
			cloud := testcloud.ForTest(b, testcloud.Options{})
			token, err := cloud.Token(time.Hour)
			must(b, err)
			node := "gw-bench-" + string(board.Arch)
			disk := filepath.Join(b.TempDir(), "gw.img")
			_, err = image.Build(context.Background(), image.Options{
				Board: board, Version: "bench", Output: disk, Cache: testCache(b), Containerd: true, Edgecore: true,
				EdgecoreConfig: joinEdgecoreConfig(b, node, cloud, token, "    enable: true\n"),
			})
			must(b, err)
			connected := `edgehub: connected to ` + strings.ReplaceAll(guestAddr(b, cloud.WSServer()), ".", `\.`) + ` as ` + node
			m := start(b, board, disk, Direct)
			expectWithin(b, m, connected, ctrdTimeout)
			powerdown(b, m)

			var secs []float64
			var timelines []string
			var last *Machine
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := start(b, board, disk, Direct)
				expectWithin(b, m, connected, ctrdTimeout)
				secs = append(secs, time.Since(m.Started).Seconds())
				b.StopTimer()
				line, _ := waitTimeline(b, m, ctrdTimeout)
				timelines = append(timelines, line)
				if i < b.N-1 {
					powerdown(b, m)
				}
				last = m
				b.StartTimer()
			}
			b.StopTimer()
			used := expectWithin(b, last, `edgegate: memory: (\d+) kB used .* after ready`, 3*time.Minute)[1]
			kb, err := strconv.ParseFloat(used, 64)
			must(b, err)
			powerdown(b, last)
			logMedianTimeline(b, board.Name, secs, timelines)
			b.ReportMetric(median(secs), "connected-median-s")
			b.ReportMetric(slices.Min(secs), "connected-min-s")
			b.ReportMetric(kb/1024, "idle-used-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
