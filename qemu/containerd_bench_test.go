package qemu

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/ctrdbuild"
)

// BenchmarkContainerd boots the containerd image of each emulated board
// and reports QEMU start → containerd healthy (the supervisor's event, in
// host seconds) and container create → first output byte (measured in the
// guest by edgegate-ctr run). Compare with BenchmarkBoot's floor and ready
// line from the same run. The boot timeline of the median boot (by time to
// healthy) goes to the log, where benchreport finds it.
func BenchmarkContainerd(b *testing.B) {
	for _, board := range boards.All() {
		if board.Emulation == nil {
			continue
		}
		b.Run(board.Name, func(b *testing.B) {
			hello := buildOCIArchive(b, helloImage, "hello", buildPayload(b, board), board.Arch)
			img := ctrdImage(b, board)
			firstOut := regexp.MustCompile(`ctrjobs: container \S+ first output after (\d+) ms`)
			var healthy, first []float64
			var timelines []string
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				disk := filepath.Join(dir, "disk.img")
				must(b, CopyImage(img, disk))
				jobs := jobsDisk(b, dir, []string{"wait-healthy 120", "import hello.tar", "run " + helloImage},
					map[string][]byte{"hello.tar": hello.data})
				b.StartTimer()
				m := startWithJobs(b, board, disk, jobs)
				expectWithin(b, m, `service containerd healthy`, ctrdTimeout)
				healthy = append(healthy, time.Since(m.Started).Seconds())
				sub := expectWithin(b, m, firstOut.String(), ctrdTimeout)
				ms, _ := strconv.Atoi(sub[1])
				first = append(first, float64(ms))
				b.StopTimer()
				line, _ := waitTimeline(b, m, ctrdTimeout)
				timelines = append(timelines, line)
				m.Close()
				b.StartTimer()
			}
			logMedianTimeline(b, board.Name, healthy, timelines)
			b.ReportMetric(median(healthy), "healthy-median-s")
			b.ReportMetric(median(first), "first-output-median-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkContainerdImage reports each board's image with the container
// runtime (compare BenchmarkImage, the image without it) and the runtime's
// parts: the multi-call binary (containerd, shim, service, edgegate-ctr),
// runc, and the four CNI plugins.
func BenchmarkContainerdImage(b *testing.B) {
	for _, board := range boards.All() {
		b.Run(board.Name, func(b *testing.B) {
			benchBuild(b, image.Options{Board: board, Containerd: true})
			src, err := image.FindSource(".")
			must(b, err)
			bins, err := ctrdbuild.Builder{Cache: filepath.Join(testCache(b).Dir, "runtime"), Source: src}.Build(context.Background(), board.Arch)
			must(b, err)
			var cni int64
			for _, p := range bins.Plugins {
				cni += fileSize(b, p)
			}
			b.ReportMetric(mib(fileSize(b, bins.Containerd)), "containerd-multicall-MiB")
			b.ReportMetric(mib(fileSize(b, bins.Runc)), "runc-MiB")
			b.ReportMetric(mib(cni), "cni-MiB")
		})
	}
}

func fileSize(b *testing.B, p string) int64 {
	st, err := os.Stat(p)
	must(b, err)
	return st.Size()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
