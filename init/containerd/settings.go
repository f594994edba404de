// Package containerd runs containerd on the device: it writes the daemon's
// configuration and the CNI bridge network at every start, sets up NAT from
// the container bridge to the uplink, and starts the daemon inside a
// private mount namespace whose root is a read-only bind of the system root
// (so runc can pivot_root; see root.go).
package containerd

import "path/filepath"

// Settings are the paths and network of the device's containerd.
type Settings struct {
	// Root holds images, snapshots and metadata: on the data partition so
	// they survive a reboot.
	Root string
	// State holds sockets and per-boot runtime state.
	State string
	// Socket is the gRPC socket clients use.
	Socket string
	// DebugSocket is the daemon's debug HTTP server (root only), where
	// init checks that the daemon serves without starting a client.
	DebugSocket string
	// Binary is the executable that serves the containerd role.
	Binary string
	// CNIBinDir holds the CNI plugins; CNIConfDir gets the network list.
	CNIBinDir  string
	CNIConfDir string
	// Bridge is the container bridge; Subnet its IPv4 network, masqueraded
	// to whatever interface routes the packet out.
	Bridge string
	Subnet string
	// Jail is where the daemon's read-only view of the root is mounted.
	Jail string
	// NetNSDir holds the pods' network namespaces, bind-mounted there by
	// edgecore after containerd started: a shared mount, so that they
	// propagate into the daemon's jail where runc joins them.
	NetNSDir string
	// PodsRunDir holds what pods keep in memory (edgecore's
	// memory-backed emptyDirs, pod IPC namespaces and /dev/shm), mounted
	// there by edgecore after containerd started: a shared mount too, so
	// that containers bind-mount the tmpfs, not the directory under it.
	PodsRunDir string
}

// Default is the layout edgegate images use.
func Default() Settings {
	return Settings{
		Root:        "/var/lib/containerd",
		State:       "/run/containerd",
		Socket:      "/run/containerd/containerd.sock",
		DebugSocket: "/run/containerd/debug.sock",
		Binary:      "/usr/bin/containerd",
		CNIBinDir:   "/usr/libexec/cni",
		CNIConfDir:  "/run/edgegate/cni",
		Bridge:      "edge0",
		Subnet:      "10.88.0.0/16",
		Jail:        "/run/edgegate/containerd-root",
		NetNSDir:    "/run/netns",
		PodsRunDir:  "/run/edgegate/pods",
	}
}

// ConfigPath is where the generated daemon configuration is written.
func (s Settings) ConfigPath() string { return filepath.Join(s.State, "config.toml") }

// NetworkName is the CNI network containers join.
const NetworkName = "edgegate"

// Namespace is the containerd namespace of every container on the gateway:
// pods (edged) and edgegate-ctr alike, so an image imported by hand on an
// air-gapped gateway is there for pods. It is the one operators look in
// ("ctr -n k8s.io"); no CRI plugin runs, so nothing else manages it.
const Namespace = "k8s.io"
