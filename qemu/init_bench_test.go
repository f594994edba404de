package qemu

import (
	"strconv"
	"testing"

	"github.com/edgegate/edgegate/boards"
)

func emulatedB(b *testing.B) []boards.Board {
	var bs []boards.Board
	for _, bd := range boards.All() {
		if bd.Emulation != nil {
			bs = append(bs, bd)
		}
	}
	return bs
}

// BenchmarkInitExecToServices measures, on a gateway past its first boot,
// the time from init's exec to every configured service started (init
// prints it; QEMU's TCG emulation makes it slower than on a board).
func BenchmarkInitExecToServices(b *testing.B) {
	for _, bd := range emulatedB(b) {
		b.Run(bd.Name, func(b *testing.B) {
			disk := initDisk(b, bd)
			m := start(b, bd, disk, Direct) // first boot formats /var: not measured
			expect(b, m, `edgegate: services: all \d+ started`)
			powerdown(b, m)
			var total float64
			b.ResetTimer()
			for b.Loop() {
				m := start(b, bd, disk, Direct)
				ms := expect(b, m, `edgegate: services: all \d+ started (\d+)ms after init exec`)[1]
				v, _ := strconv.ParseFloat(ms, 64)
				total += v
				powerdown(b, m)
			}
			b.ReportMetric(total/float64(b.N), "ms/exec-to-services")
		})
	}
}

// BenchmarkInitRSS reads init's resident memory, which init prints once,
// 60 s after it started, with its services running.
func BenchmarkInitRSS(b *testing.B) {
	for _, bd := range emulatedB(b) {
		b.Run(bd.Name, func(b *testing.B) {
			disk := initDisk(b, bd)
			var total float64
			for b.Loop() {
				m := start(b, bd, disk, Direct)
				kb := expect(b, m, `edgegate: init rss (\d+) kB after 1m0s`)[1]
				v, _ := strconv.ParseFloat(kb, 64)
				total += v
				powerdown(b, m)
			}
			b.ReportMetric(total/float64(b.N), "kB/init-rss-60s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
