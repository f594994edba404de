package containerd

import (
	"context"
	"fmt"
	"strings"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/platforms"
)

// Settings say where the daemon is and how pods' containers are made.
type Settings struct {
	// Endpoint is the daemon's socket ("unix:///run/containerd/containerd.sock"
	// or a path).
	Endpoint string
	// Namespace is the containerd namespace pods live in: "k8s.io", the
	// one init's edgegate-ctr imports images into, so that an image loaded
	// by hand on an air-gapped gateway is there for pods.
	Namespace string
	// Snapshotter and Runtime are containerd's names for the root
	// filesystem driver and the OCI runtime shim.
	Snapshotter string
	Runtime     string
	// FIFODir holds the containers' stdout/stderr FIFOs (per boot, /run).
	FIFODir string
	// Root is containerd's state directory; image garbage collection
	// watches the filesystem holding it.
	Root string
	// HostsDir is containerd's registry host configuration
	// (<dir>/<host>/hosts.toml: mirrors, plain HTTP, CAs), the same files
	// containerd's CRI reads.
	HostsDir string
}

// DefaultSettings is the gateway's layout.
func DefaultSettings() Settings {
	return Settings{
		Endpoint:    "unix:///run/containerd/containerd.sock",
		Namespace:   "k8s.io",
		Snapshotter: "overlayfs",
		Runtime:     "io.containerd.runc.v2",
		FIFODir:     "/run/edgegate/fifo",
		Root:        "/var/lib/containerd",
		HostsDir:    "/etc/containerd/certs.d",
	}
}

// WithDefaults fills the fields s leaves empty from DefaultSettings.
func (s Settings) WithDefaults() Settings {
	d := DefaultSettings()
	for _, f := range []struct {
		v   *string
		def string
	}{
		{&s.Endpoint, d.Endpoint}, {&s.Namespace, d.Namespace}, {&s.Snapshotter, d.Snapshotter},
		{&s.Runtime, d.Runtime}, {&s.FIFODir, d.FIFODir}, {&s.Root, d.Root}, {&s.HostsDir, d.HostsDir},
	} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	return s
}

// Runtime runs pods' containers on containerd through its Go client.
type Runtime struct {
	s Settings
	c *client.Client
}

// Connect opens the client. It does not wait for the daemon: calls fail
// while it is down and succeed again once init has restarted it.
func Connect(s Settings) (*Runtime, error) {
	s = s.WithDefaults()
	socket := strings.TrimPrefix(s.Endpoint, "unix://")
	c, err := client.New(socket,
		client.WithDefaultNamespace(s.Namespace),
		client.WithDefaultPlatform(platforms.Default()))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	return &Runtime{s: s, c: c}, nil
}

// Close releases the client; containers keep running.
func (r *Runtime) Close() error { return r.c.Close() }

// Version is the daemon's version, the node's containerRuntimeVersion
// without the scheme.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.c.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", err)
	}
	return strings.TrimPrefix(v.Version, "v"), nil
}
