package containerd

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// disabledPlugins are left out at start: the Kubernetes CRI (edgecore
// drives containers through the client API), tracing, and snapshotters and
// handlers that only log errors on this kernel. The binary is built without
// most of them (no_cri, no_tracing); listing them keeps a full build quiet too.
var disabledPlugins = []string{
	"io.containerd.grpc.v1.cri",
	"io.containerd.cri.v1.images",
	"io.containerd.cri.v1.runtime",
	"io.containerd.podsandbox.controller.v1.podsandbox",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
	"io.containerd.snapshotter.v1.blockfile",
	"io.containerd.snapshotter.v1.erofs",
	"io.containerd.differ.v1.erofs",
	"io.containerd.mount-handler.v1.erofs",
	"io.containerd.nri.v1.nri",
	// /opt/containerd on a read-only root: nothing is installed there.
	"io.containerd.internal.v1.opt",
}

// ConfigTOML is the daemon configuration (containerd 2.x, version 4):
// state on the data partition, overlayfs snapshots, the socket under /run.
func ConfigTOML(s Settings) []byte {
	var b strings.Builder
	b.WriteString("# Written by edgegate at every start of containerd; edits are lost.\n")
	b.WriteString("version = 4\n")
	fmt.Fprintf(&b, "root = %s\n", strconv.Quote(s.Root))
	fmt.Fprintf(&b, "state = %s\n", strconv.Quote(s.State))
	b.WriteString("disabled_plugins = [\n")
	for _, p := range disabledPlugins {
		fmt.Fprintf(&b, "  %s,\n", strconv.Quote(p))
	}
	b.WriteString("]\n\n")
	// Info level prints about a hundred lines per start; on a serial
	// console that crowds out everything else.
	b.WriteString("[debug]\n  level = \"warn\"\n\n")
	// Version 4 configures each server in its plugin's section; the
	// top-level [grpc] and [debug] addresses are only migrated from older
	// versions.
	fmt.Fprintf(&b, "[plugins.\"io.containerd.server.v1.grpc\"]\n  address = %s\n\n", strconv.Quote(s.Socket))
	fmt.Fprintf(&b, "[plugins.\"io.containerd.server.v1.debug\"]\n  address = %s\n", strconv.Quote(s.DebugSocket))
	return []byte(b.String())
}

// CNIConfList is the container network: a bridge that is the containers'
// gateway, addresses from host-local and loopback inside each container.
// NAT to the uplink is not the bridge plugin's (its ipMasq needs the
// iptables program): Masquerade installs it once. Published host ports are
// edged's, in nftables over netlink, for the same reason: no portmap.
func CNIConfList(s Settings) ([]byte, error) {
	list := map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins": []any{
			map[string]any{
				"type":      "bridge",
				"bridge":    s.Bridge,
				"isGateway": true,
				"ipMasq":    false,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": s.Subnet}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": s.State + "/cni-ipam",
				},
			},
		},
	}
	return json.MarshalIndent(list, "", "  ")
}
