package containerd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	leasesapi "github.com/containerd/containerd/api/services/leases/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	transferapi "github.com/containerd/containerd/api/services/transfer/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/v2/core/content"
	contentproxy "github.com/containerd/containerd/v2/core/content/proxy"
	"github.com/containerd/containerd/v2/core/leases"
	leasesproxy "github.com/containerd/containerd/v2/core/leases/proxy"
	"github.com/containerd/containerd/v2/core/snapshots"
	snapshotsproxy "github.com/containerd/containerd/v2/core/snapshots/proxy"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
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
	// containerd's CRI reads. The daemon reads it: pulls run there.
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

// Runtime runs pods' containers on containerd through its gRPC API.
//
// It speaks to the daemon's services directly rather than through
// containerd's Go client: the client links the registry resolver, the
// archive and compression code and OpenTelemetry for pulls that the
// daemon's transfer service does itself, and that doubled edgecore.
type Runtime struct {
	s    Settings
	conn *grpc.ClientConn

	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	images     imagesapi.ImagesClient
	transfer   transferapi.TransferClient
	content    content.Store
	snapshots  snapshots.Snapshotter
	leases     leases.Manager

	// recorded has, per container whose exit this client watches, a
	// channel closed once the exit is recorded (see follow).
	recorded sync.Map
}

// Largest gRPC messages, as containerd's client allows (a list of many
// containers with their specs).
const maxMsgSize = 16 << 20

// Connect opens the connection. It does not wait for the daemon: calls
// fail while it is down and succeed again once init has restarted it.
func Connect(s Settings) (*Runtime, error) {
	s = s.WithDefaults()
	socket := strings.TrimPrefix(s.Endpoint, "unix://")
	conn, err := dial(socket, s.Namespace)
	if err != nil {
		return nil, err
	}
	return &Runtime{
		s:          s,
		conn:       conn,
		containers: containersapi.NewContainersClient(conn),
		tasks:      tasksapi.NewTasksClient(conn),
		images:     imagesapi.NewImagesClient(conn),
		transfer:   transferapi.NewTransferClient(conn),
		content:    contentproxy.NewContentStore(contentapi.NewContentClient(conn)),
		snapshots:  snapshotsproxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), s.Snapshotter),
		leases:     leasesproxy.NewLeaseManager(leasesapi.NewLeasesClient(conn)),
	}, nil
}

// dial makes the gRPC connection to the daemon's socket. Reconnection
// backs off to at most 3 s, so that a restarted daemon is found again
// promptly; every call carries the namespace unless its context names
// another.
func dial(socket, namespace string) (*grpc.ClientConn, error) {
	bo := backoff.DefaultConfig
	bo.MaxDelay = 3 * time.Second
	conn, err := grpc.NewClient("passthrough:///"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 10 * time.Second}),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withNamespace(ctx, namespace), method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withNamespace(ctx, namespace), desc, cc, method, opts...)
		}))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	return conn, nil
}

func withNamespace(ctx context.Context, namespace string) context.Context {
	if _, ok := namespaces.Namespace(ctx); ok {
		return ctx
	}
	return namespaces.WithNamespace(ctx, namespace)
}

// Close releases the connection; containers keep running.
func (r *Runtime) Close() error { return r.conn.Close() }

// Version is the daemon's version, the node's containerRuntimeVersion
// without the scheme.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := versionapi.NewVersionClient(r.conn).Version(ctx, &emptypb.Empty{})
	if err != nil {
		return "", fmt.Errorf("containerd version: %w", errgrpc.ToNative(err))
	}
	return strings.TrimPrefix(v.Version, "v"), nil
}

// withLease runs under a lease that keeps what it creates (snapshots,
// content) from containerd's garbage collector until it is done, as
// containerd's client does: one day at most, should edgecore die first.
func (r *Runtime) withLease(ctx context.Context) (context.Context, func(), error) {
	if _, ok := leases.FromContext(ctx); ok {
		return ctx, func() {}, nil
	}
	ctx = withNamespace(ctx, r.s.Namespace)
	l, err := r.leases.Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour))
	if err != nil {
		return ctx, nil, fmt.Errorf("lease: %w", err)
	}
	return leases.WithLease(ctx, l.ID), func() {
		r.leases.Delete(context.WithoutCancel(ctx), l)
	}, nil
}
