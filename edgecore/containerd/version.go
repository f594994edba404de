// Package containerd is edgecore's link to the node's container runtime:
// the containerd daemon init supervises on the gateway.
package containerd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version asks the daemon at endpoint ("unix:///run/containerd/containerd.sock"
// or a socket path) for its version over containerd's gRPC API.
func Version(ctx context.Context, endpoint string) (string, error) {
	socket := strings.TrimPrefix(endpoint, "unix://")
	conn, err := grpc.NewClient("passthrough:///"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}))
	if err != nil {
		return "", fmt.Errorf("containerd at %s: %w", socket, err)
	}
	defer conn.Close()
	resp, err := versionapi.NewVersionClient(conn).Version(ctx, &emptypb.Empty{})
	if err != nil {
		return "", fmt.Errorf("containerd at %s: version: %w", socket, err)
	}
	return resp.Version, nil
}

// RuntimeVersion is the node's containerRuntimeVersion, as the kubelet
// reports it: "containerd://<version>", or "remote://" while the daemon
// does not answer within timeout.
func RuntimeVersion(endpoint string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	v, err := Version(ctx, endpoint)
	if err != nil {
		return "remote://"
	}
	return "containerd://" + strings.TrimPrefix(v, "v")
}
