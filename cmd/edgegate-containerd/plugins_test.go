package main

import (
	"slices"
	"testing"

	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
)

// TestPluginSet: the daemon registers every plugin edgecore and
// edgegate-ctr use, each of them finds a plugin of every type it requires,
// and what edgegate does not use is left out.
func TestPluginSet(t *testing.T) {
	regs := registry.Graph(func(*plugin.Registration) bool { return false })
	have := map[plugin.Type]bool{}
	var uris []string
	for _, r := range regs {
		have[r.Type] = true
		uris = append(uris, r.URI())
	}
	// Types some plugins list but do without: the mount manager takes
	// whatever mount handlers there are (erofs only, in containerd), the
	// tasks service falls back to a monitor that collects no metrics, and
	// the ttrpc server serves the gRPC plugins that speak ttrpc too.
	optional := map[plugin.Type]bool{
		"io.containerd.mount-handler.v1": true,
		"io.containerd.monitor.task.v1":  true,
		"io.containerd.ttrpc.v1":         true,
	}
	for _, r := range regs {
		for _, req := range r.Requires {
			if req != "*" && !have[req] && !optional[req] {
				t.Errorf("%s requires a %s plugin; none is linked in", r.URI(), req)
			}
		}
	}
	for _, want := range []string{
		"io.containerd.content.v1.content",
		"io.containerd.metadata.v1.bolt",
		"io.containerd.gc.v1.scheduler",
		"io.containerd.snapshotter.v1.overlayfs",
		"io.containerd.differ.v1.walking",
		"io.containerd.runtime.v2.task",
		"io.containerd.transfer.v1.local",
		"io.containerd.server.v1.grpc",
		"io.containerd.server.v1.ttrpc",
		"io.containerd.server.v1.debug",
		"io.containerd.grpc.v1.containers",
		"io.containerd.grpc.v1.content",
		"io.containerd.grpc.v1.diff",
		"io.containerd.grpc.v1.events",
		"io.containerd.grpc.v1.images",
		"io.containerd.grpc.v1.introspection",
		"io.containerd.grpc.v1.leases",
		"io.containerd.grpc.v1.namespaces",
		"io.containerd.grpc.v1.snapshots",
		"io.containerd.grpc.v1.streaming",
		"io.containerd.grpc.v1.tasks",
		"io.containerd.grpc.v1.transfer",
		"io.containerd.grpc.v1.version",
	} {
		if !slices.Contains(uris, want) {
			t.Errorf("plugin %s is not linked in", want)
		}
	}
	for _, unwanted := range []string{
		"io.containerd.grpc.v1.cri",
		"io.containerd.nri.v1.nri",
		"io.containerd.snapshotter.v1.native",
		"io.containerd.snapshotter.v1.erofs",
		"io.containerd.snapshotter.v1.blockfile",
		"io.containerd.monitor.container.v1.restart",
		"io.containerd.server.v1.metrics",
	} {
		if slices.Contains(uris, unwanted) {
			t.Errorf("plugin %s is linked in; edgegate does not use it", unwanted)
		}
	}
}
