package main

import (
	"strings"
	"testing"
)

// The flash figures come with dd's of the same run and what the ratios
// mean.
func TestFlashExplained(t *testing.T) {
	const out = `pkg: github.com/edgegate/edgegate/image/flash
BenchmarkFlash-2   	       5	 287387171 ns/op	 233.51 MB/s	       561.8 dd-MBps	         0.4156 flash/dd	       389.7 write-MBps	         0.6936 write/dd
`
	pkgs, cpu, err := parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeReport(&b, pkgs, cpu)
	s := section(b.String(), "## image/flash")
	for _, want := range []string{"`Flash`", "dd bs=4M conv=fsync", "| Flash | 5 | 287387171 | 233.51 | 561.8 | 0.4156 | 389.7 | 0.6936 |"} {
		if !strings.Contains(s, want) {
			t.Errorf("image/flash section lacks %q:\n%s", want, s)
		}
	}
}
