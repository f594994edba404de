package prober

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	v1 "k8s.io/api/core/v1"
)

// startGRPC serves srv on a local port until the test ends.
func startGRPC(t *testing.T, srv *grpc.Server) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

func grpcProbe(port int, service *string) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: int32(port), Service: service}}}
}

// uaRecorder remembers the user agent of the last call.
type uaRecorder struct {
	mu sync.Mutex
	ua []string
}

func (r *uaRecorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.ua = md.Get("user-agent")
	r.mu.Unlock()
	return handler(ctx, req)
}

func (r *uaRecorder) last() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ua
}

func TestGRPCProbe(t *testing.T) {
	ua := &uaRecorder{}
	srv := grpc.NewServer(grpc.UnaryInterceptor(ua.intercept))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus("api", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	port := startGRPC(t, srv)

	bare := startGRPC(t, grpc.NewServer()) // no health service
	closed := freePort(t)
	name := func(s string) *string { return &s }

	tests := []struct {
		name    string
		probe   *v1.Probe
		target  Target
		want    Result
		wantSub string
	}{
		{name: "serving", probe: grpcProbe(port, nil), target: Target{PodIP: "127.0.0.1"}, want: Success, wantSub: "service healthy"},
		{name: "named service serving", probe: grpcProbe(port, name("api")), target: Target{PodIP: "127.0.0.1"}, want: Success},
		{
			name: "not serving", probe: grpcProbe(port, name("db")), target: Target{PodIP: "127.0.0.1"},
			want: Failure, wantSub: `service unhealthy (responded with "NOT_SERVING")`,
		},
		{name: "unknown service", probe: grpcProbe(port, name("nope")), target: Target{PodIP: "127.0.0.1"}, want: Failure, wantSub: "NotFound"},
		{
			name: "no health service", probe: grpcProbe(bare, nil), target: Target{PodIP: "127.0.0.1"},
			want: Failure, wantSub: "does not implement the grpc health protocol",
		},
		{name: "nothing listening", probe: grpcProbe(closed, nil), target: Target{PodIP: "127.0.0.1"}, want: Failure, wantSub: "connection refused"},
		{name: "no pod IP", probe: grpcProbe(port, nil), target: Target{}, want: Unknown, wantSub: "pod IP is unknown"},
		{name: "bad port", probe: grpcProbe(0, nil), target: Target{PodIP: "127.0.0.1"}, want: Unknown, wantSub: "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := probeOnce(context.Background(), tc.probe, tc.target, nil, 5*time.Second)
			if got != tc.want || !strings.Contains(msg, tc.wantSub) {
				t.Errorf("probe = %v, %q; want %v containing %q", got, msg, tc.want, tc.wantSub)
			}
		})
	}
	if got := ua.last(); len(got) != 1 || !strings.HasPrefix(got[0], "kube-probe/1.32") {
		t.Errorf("user agent = %q, want kube-probe/1.32...", got)
	}
}

// slowHealth answers health checks only when the caller gives up.
type slowHealth struct {
	healthpb.UnimplementedHealthServer
}

func (slowHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGRPCProbeTimeout(t *testing.T) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, slowHealth{})
	port := startGRPC(t, srv)

	got, msg := probeOnce(context.Background(), grpcProbe(port, nil), Target{PodIP: "127.0.0.1"}, nil, 100*time.Millisecond)
	if got != Failure || !strings.Contains(msg, "timeout: health rpc did not complete within 100ms") {
		t.Errorf("probe = %v, %q; want Failure by timeout", got, msg)
	}
}

// testCertificate borrows the self-signed certificate of net/http/httptest.
func testCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	return srv.TLS.Certificates[0]
}

func TestGRPCProbeModes(t *testing.T) {
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{testCertificate(t)}})
	srv := grpc.NewServer(grpc.Creds(creds))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	port := startGRPC(t, srv)

	mode := func(m v1.GRPCProbeMode) *v1.GRPCProbeMode { return &m }
	tests := []struct {
		name    string
		mode    *v1.GRPCProbeMode
		want    Result
		wantSub string
	}{
		{name: "TLS without verification", mode: mode(v1.GRPCProbeModeTLS), want: Success},
		{name: "plaintext against TLS", mode: mode(v1.GRPCProbeModePlaintext), want: Failure},
		{name: "default is plaintext", mode: nil, want: Failure},
		{name: "unknown mode", mode: mode("mTLS"), want: Unknown, wantSub: `unsupported mode "mTLS"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := grpcProbe(port, nil)
			p.GRPC.Mode = tc.mode
			got, msg := probeOnce(context.Background(), p, Target{PodIP: "127.0.0.1"}, nil, 5*time.Second)
			if got != tc.want || !strings.Contains(msg, tc.wantSub) {
				t.Errorf("probe = %v, %q; want %v containing %q", got, msg, tc.want, tc.wantSub)
			}
		})
	}
}
