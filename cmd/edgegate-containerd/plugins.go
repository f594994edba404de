package main

// The daemon's plugins: what edgecore and edgegate-ctr use through the
// client API, and what those need, instead of containerd's full builtins
// (CRI, NRI, the erofs, native and blockfile snapshotters, the restart
// monitor, sandboxes, cgroup metrics, the metrics and TCP servers). Each
// plugin linked in costs the binary's every start its package
// initialisation, and the daemon's start its loading: a multi-call
// binary pays that in all four roles, several times per boot.
//
// TestPluginSet checks that each of these finds what it requires.
import (
	// Types of the runc shim's options, which the client sends.
	_ "github.com/containerd/containerd/api/types/runc/options"

	// Tasks: the v2 runtime (shim and task managers).
	_ "github.com/containerd/containerd/v2/core/runtime/v2"

	// Storage: content, metadata, leases, garbage collection, overlayfs
	// snapshots, the walking differ and the mount manager it needs.
	_ "github.com/containerd/containerd/v2/plugins/content/local/plugin"
	_ "github.com/containerd/containerd/v2/plugins/diff/walking/plugin"
	_ "github.com/containerd/containerd/v2/plugins/gc"
	_ "github.com/containerd/containerd/v2/plugins/leases"
	_ "github.com/containerd/containerd/v2/plugins/metadata"
	_ "github.com/containerd/containerd/v2/plugins/mount"
	_ "github.com/containerd/containerd/v2/plugins/snapshots/overlay/plugin"

	// Events, and image transfer (pulls) with its streams and verifiers.
	_ "github.com/containerd/containerd/v2/plugins/events"
	_ "github.com/containerd/containerd/v2/plugins/imageverifier"
	_ "github.com/containerd/containerd/v2/plugins/streaming"
	_ "github.com/containerd/containerd/v2/plugins/transfer"

	// Servers: gRPC for clients, ttrpc for the shims' events, and the
	// debug server init's health check asks.
	_ "github.com/containerd/containerd/v2/plugins/server/debug"
	_ "github.com/containerd/containerd/v2/plugins/server/grpc"
	_ "github.com/containerd/containerd/v2/plugins/server/ttrpc"

	// The client API's services.
	_ "github.com/containerd/containerd/v2/plugins/services/containers"
	_ "github.com/containerd/containerd/v2/plugins/services/content"
	_ "github.com/containerd/containerd/v2/plugins/services/diff"
	_ "github.com/containerd/containerd/v2/plugins/services/events"
	_ "github.com/containerd/containerd/v2/plugins/services/images"
	_ "github.com/containerd/containerd/v2/plugins/services/introspection"
	_ "github.com/containerd/containerd/v2/plugins/services/leases"
	_ "github.com/containerd/containerd/v2/plugins/services/namespaces"
	_ "github.com/containerd/containerd/v2/plugins/services/snapshots"
	_ "github.com/containerd/containerd/v2/plugins/services/streaming"
	_ "github.com/containerd/containerd/v2/plugins/services/tasks"
	_ "github.com/containerd/containerd/v2/plugins/services/transfer"
	_ "github.com/containerd/containerd/v2/plugins/services/version"
	_ "github.com/containerd/containerd/v2/plugins/services/warning"
)
