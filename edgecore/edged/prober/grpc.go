package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
)

// probeGRPC calls grpc.health.v1.Health/Check on the pod IP and succeeds only
// when the service answers SERVING. Every other outcome, including a server
// that does not implement the health protocol, is Failure, as with the
// kubelet (which mimics grpc_health_probe).
func probeGRPC(ctx context.Context, a *v1.GRPCAction, t Target, timeout time.Duration) (Result, string) {
	if t.PodIP == "" {
		return Unknown, fmt.Sprintf("grpc probe of container %s: the pod IP is unknown", t.containerName())
	}
	if a.Port < 1 || a.Port > 65535 {
		return Unknown, fmt.Sprintf("grpc probe of container %s: port %d is out of range 1-65535", t.containerName(), a.Port)
	}
	creds, err := grpcCredentials(a.Mode)
	if err != nil {
		return Unknown, fmt.Sprintf("grpc probe of container %s: %v", t.containerName(), err)
	}
	service := ""
	if a.Service != nil {
		service = *a.Service
	}

	addr := net.JoinHostPort(t.PodIP, strconv.Itoa(int(a.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(userAgent),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return probeDialer().DialContext(ctx, "tcp", addr)
		}),
	)
	if err != nil {
		return Unknown, fmt.Sprintf("grpc probe of container %s: setting up a client for %s: %v", t.containerName(), addr, err)
	}
	defer func() { _ = conn.Close() }()

	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(callCtx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return Failure, grpcErrorMessage(err, timeout)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return Success, "service healthy"
}

// grpcCredentials picks the transport security of the probe's mode:
// plaintext by default, or TLS without certificate verification.
func grpcCredentials(mode *v1.GRPCProbeMode) (credentials.TransportCredentials, error) {
	if mode == nil || *mode == v1.GRPCProbeModePlaintext {
		return insecure.NewCredentials(), nil
	}
	if *mode == v1.GRPCProbeModeTLS {
		return credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}), nil
	}
	return nil, fmt.Errorf("unsupported mode %q", *mode)
}

// grpcErrorMessage explains a failed health call.
func grpcErrorMessage(err error, timeout time.Duration) string {
	switch status.Code(err) {
	case codes.Unimplemented:
		return fmt.Sprintf("this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", status.Convert(err).Message())
	case codes.DeadlineExceeded:
		return fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
	}
	return fmt.Sprintf("health rpc probe failed: %v", err)
}
