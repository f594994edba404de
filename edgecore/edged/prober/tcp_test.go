package prober

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// listen accepts and closes connections on a local port until the test ends.
func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

func TestTCPProbe(t *testing.T) {
	open := listen(t)
	closed := freePort(t)
	container := &v1.Container{Name: "db", Ports: []v1.ContainerPort{{Name: "sql", ContainerPort: int32(open)}}}

	tests := []struct {
		name    string
		action  v1.TCPSocketAction
		target  Target
		want    Result
		wantSub string
	}{
		{name: "open port on pod IP", action: v1.TCPSocketAction{Port: intstr.FromInt(open)}, target: Target{PodIP: "127.0.0.1"}, want: Success},
		{name: "explicit host", action: v1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt(open)}, target: Target{}, want: Success},
		{name: "named port", action: v1.TCPSocketAction{Port: intstr.FromString("sql")}, target: Target{PodIP: "127.0.0.1", Container: container}, want: Success},
		{name: "closed port", action: v1.TCPSocketAction{Port: intstr.FromInt(closed)}, target: Target{PodIP: "127.0.0.1"}, want: Failure, wantSub: "connection refused"},
		{
			name: "unknown named port", action: v1.TCPSocketAction{Port: intstr.FromString("redis")},
			target: Target{PodIP: "127.0.0.1", Container: container}, want: Unknown,
			wantSub: `tcp probe of container db: probe port "redis" is not a port declared by container db`,
		},
		{name: "no host", action: v1.TCPSocketAction{Port: intstr.FromInt(open)}, target: Target{}, want: Unknown, wantSub: "pod IP is unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action := tc.action
			p := &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &action}}
			got, msg := probeOnce(context.Background(), p, tc.target, nil, 5*time.Second)
			if got != tc.want || !strings.Contains(msg, tc.wantSub) {
				t.Errorf("probe = %v, %q; want %v containing %q", got, msg, tc.want, tc.wantSub)
			}
		})
	}
}
