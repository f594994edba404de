package main

import (
	"strings"
	"testing"
)

// What go test -bench prints for the boot benchmarks: result lines, then
// each sub-benchmark's log under its header.
const timelineSample = `pkg: github.com/edgegate/edgegate/qemu
BenchmarkContainerd/qemu-arm64-2         	       5	         0 ns/op	      7.58 healthy-median-s
--- BENCH: BenchmarkContainerd/qemu-arm64-2
    containerd_bench_test.go:61: median-boot-timeline qemu-arm64 timeline kernel=0+1111 init=1200+2000
    containerd_bench_test.go:61: median-boot-timeline qemu-arm64 timeline kernel=0+1810 init=1826+2100 data=2795+435 service:containerd=3985+2851
BenchmarkContainerd/qemu-armv7-2         	       5	         0 ns/op	      9.91 healthy-median-s
--- BENCH: BenchmarkContainerd/qemu-armv7-2
    containerd_bench_test.go:61: median-boot-timeline qemu-armv7 timeline kernel=0+3910 init=3950+2500 modules-rest=4100+900 service:containerd=6100+?
    containerd_bench_test.go:61: not a timeline line
`

func TestTimelineTable(t *testing.T) {
	pkgs, _, err := parse(strings.NewReader(timelineSample))
	if err != nil {
		t.Fatal(err)
	}
	// The b.N = 1 run's timeline is replaced by the last run's.
	if len(pkgs) != 1 || len(pkgs[0].timelines) != 2 {
		t.Fatalf("parsed %+v, want one package with two boards' timelines", pkgs)
	}
	var b strings.Builder
	writeReport(&b, pkgs, "")
	report := b.String()
	for _, want := range []string{
		"Boot timeline of the median `Containerd` boot",
		"| step | qemu-arm64 start-ms | qemu-arm64 ms | qemu-armv7 start-ms | qemu-armv7 ms |",
		"| kernel | 0 | 1810 | 0 | 3910 |",
		"| data | 2795 | 435 |  |  |",
		"| service:containerd | 3985 | 2851 | 6100 | ? |",
		"| modules-rest |  |  | 4100 | 900 |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Index(report, "| healthy-median-s |") > strings.Index(report, "Boot timeline") {
		t.Errorf("the timeline table comes before the benchmark's results:\n%s", report)
	}
}

func TestParseTimelineRefusesOtherLines(t *testing.T) {
	for _, l := range []string{
		"    x_test.go:1: median-boot-timeline qemu-arm64 timeline kernel=0",
		"    x_test.go:1: median-boot-timeline qemu-arm64 timeline",
		"median-boot-timeline qemu-arm64 timeline kernel=0+1",
	} {
		if _, ok := parseTimeline("Containerd", l); ok {
			t.Errorf("parseTimeline(%q) accepted it", l)
		}
	}
	if _, ok := parseTimeline("", "    x_test.go:1: median-boot-timeline b timeline kernel=0+1"); ok {
		t.Error("a timeline outside any benchmark's log was accepted")
	}
}
