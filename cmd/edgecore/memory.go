package main

import (
	"runtime/debug"

	"k8s.io/klog/v2"
)

// defaultMemoryLimit is the Go runtime's soft memory limit for edgecore
// (heap, stacks and runtime data; the binary's own pages come on top, about
// 22 MiB). The bus and the cloud link bound what is live at any moment; this
// bounds the garbage the collector lets pile up beside it, which would
// otherwise double the heap while the cloud sends frames of 8 MiB. An idle
// or busy gateway lives far below it, so it costs nothing until the cloud
// floods.
const defaultMemoryLimit = 32 << 20

// applyMemoryLimit sets defaultMemoryLimit unless the GOMEMLIMIT
// environment variable set a limit already (the Go runtime reads it at
// start), and returns the limit in force.
func applyMemoryLimit(getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		limit := debug.SetMemoryLimit(-1)
		klog.Infof("Go soft memory limit %d MiB, from GOMEMLIMIT", limit>>20)
		return limit
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	klog.Infof("Go soft memory limit %d MiB (GOMEMLIMIT sets another)", defaultMemoryLimit>>20)
	return defaultMemoryLimit
}
