package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/edgegate/edgegate/edgecore/bus
cpu: Test CPU @ 2.00GHz
BenchmarkSendReceive-2   	 1000000	       120.5 ns/op	       0 B/op	       0 allocs/op
PASS
pkg: github.com/edgegate/edgegate/qemu
BenchmarkPodStart-2   	       1	         0 ns/op	        10.20 start-p50-s	        19.80 start-p90-s
`

func TestParseKeepsPackagesAndMetrics(t *testing.T) {
	pkgs, cpu, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "Test CPU @ 2.00GHz" {
		t.Errorf("cpu = %q", cpu)
	}
	if len(pkgs) != 2 || len(pkgs[0].results) != 1 || len(pkgs[1].results) != 1 {
		t.Fatalf("parsed %d packages: %+v", len(pkgs), pkgs)
	}
	pod := pkgs[1].results[0]
	if pod.name != "PodStart" {
		t.Errorf("name = %q, want the GOMAXPROCS suffix dropped", pod.name)
	}
	for _, m := range pod.metrics {
		if m.unit == "ns/op" {
			t.Errorf("a zeroed ns/op is reported: %+v", pod.metrics)
		}
	}
	if len(pod.metrics) != 2 {
		t.Errorf("metrics = %+v, want start-p50-s and start-p90-s", pod.metrics)
	}
}

// Reference figures are upstream's, quoted from elsewhere: the report must
// set them apart from the figures of the run, each with its source.
func TestReportSetsReferenceFiguresApart(t *testing.T) {
	pkgs, cpu, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	out := b.String()
	bus := section(out, "## edgecore/bus")
	refAt := strings.Index(bus, "Reference figures, not measured in this run:")
	if refAt < 0 {
		t.Fatalf("edgecore/bus section has no reference heading:\n%s", bus)
	}
	if !strings.Contains(bus[refAt:], "330 ns/op") || !strings.Contains(bus[refAt:], "(source: ") {
		t.Errorf("beehive's figure is not under the reference heading with a source:\n%s", bus)
	}
	if strings.Contains(bus[:refAt], "330 ns/op") {
		t.Errorf("beehive's figure appears among the figures of the run:\n%s", bus)
	}
	for pkg, refs := range references {
		for _, r := range refs {
			if r.source == "" {
				t.Errorf("%s: reference %q has no source", pkg, r.text)
			}
		}
	}
}

func section(report, heading string) string {
	i := strings.Index(report, heading)
	if i < 0 {
		return ""
	}
	rest := report[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// The host pod-start figures come with what they measure and the floor
// they stand next to.
func TestHostPodStartExplained(t *testing.T) {
	const host = `pkg: github.com/edgegate/edgegate/edgecore/edged/internal/hostrt
BenchmarkPodStartHost-2   	       1	         0 ns/op	         0.31 start-p50-s	         0.40 start-p90-s	         0.09 ctrd-floor-p50-s	         0.12 ctrd-floor-p90-s
`
	pkgs, cpu, err := parse(strings.NewReader(host))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	s := section(b.String(), "## edgecore/edged/internal/hostrt")
	for _, want := range []string{"`PodStartHost`", "floor", "cgroup", "| PodStartHost | 1 | 0.31 | 0.40 | 0.09 | 0.12 |"} {
		if !strings.Contains(s, want) {
			t.Errorf("host section lacks %q:\n%s", want, s)
		}
	}
}

// The root figures come with what they measure and the bound they are
// judged against.
func TestRootVerityExplained(t *testing.T) {
	const out = `pkg: github.com/edgegate/edgegate/qemu
BenchmarkRootVerity/qemu-arm64-2   	       3	         1.209 check-s	        89.20 loop-MiBps	        17.52 read-at-boot-MiB	         1.076 root-mount-s	         1.731 sha256-image-s	        36.50 verity-MiBps	         0.2742 verity-boot-cost-s
`
	pkgs, cpu, err := parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	s := section(b.String(), "## qemu")
	for _, want := range []string{"`RootVerity`", "verity-boot-cost-s", "sha256-image-s", "0.3 s", "slot-xz9-MiB", "0.2742"} {
		if !strings.Contains(s, want) {
			t.Errorf("qemu section lacks %q:\n%s", want, s)
		}
	}
}

// The update figures come with what they measure: the time push →
// committed, and the bytes on the wire next to the slot image's.
func TestOTAUpdateExplained(t *testing.T) {
	const out = `pkg: github.com/edgegate/edgegate/qemu
BenchmarkOTAUpdate-2   	       3	         0 ns/op	        21.40 push-s	        19.21 slot-MiB	        42.10 update-s	        19.21 wire-%	         3.69 wire-MiB
`
	pkgs, cpu, err := parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	s := section(b.String(), "## qemu")
	for _, want := range []string{"`OTAUpdate`", "push → the new slot committed", "wire-MiB", "| OTAUpdate | 3 | 21.40 | 19.21 | 42.10 | 19.21 | 3.69 |"} {
		if !strings.Contains(s, want) {
			t.Errorf("qemu section lacks %q:\n%s", want, s)
		}
	}
}
