package prober

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolvePort(t *testing.T) {
	c := &v1.Container{Name: "app", Ports: []v1.ContainerPort{
		{Name: "http", ContainerPort: 8080},
		{Name: "metrics", ContainerPort: 9090},
	}}
	tests := []struct {
		name    string
		port    intstr.IntOrString
		c       *v1.Container
		want    int
		wantErr string
	}{
		{name: "number", port: intstr.FromInt32(80), c: c, want: 80},
		{name: "named", port: intstr.FromString("metrics"), c: c, want: 9090},
		{name: "number written as a string", port: intstr.FromString("8443"), c: c, want: 8443},
		{name: "unknown name", port: intstr.FromString("grpc"), c: c, wantErr: `probe port "grpc" is not a port declared by container app`},
		{name: "named without a container", port: intstr.FromString("http"), c: nil, wantErr: `not a port declared by container <unnamed>`},
		{name: "zero", port: intstr.FromInt32(0), c: c, wantErr: "out of range"},
		{name: "too large", port: intstr.FromInt32(65536), c: c, wantErr: "out of range"},
		{name: "too large as a string", port: intstr.FromString("70000"), c: c, wantErr: "out of range"},
		{name: "no kind", port: intstr.IntOrString{Type: 7}, c: c, wantErr: "neither a number nor a name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolvePort(tc.port, tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("resolvePort = %d, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("resolvePort = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
