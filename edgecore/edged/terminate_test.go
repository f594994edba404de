package edged

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/edgegate/edgegate/edgecore/edged/podnet"
)

// An httpGet hook reaches the pod's address on the container's named
// port, follows a redirect on the same host, and fails on an error status
// or when its deadline (the grace period) runs out.
func TestHTTPHook(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/stop":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/stop", http.StatusFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	w := &worker{att: &podnet.Attachment{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}}
	c := &v1.Container{Name: "app", Ports: []v1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	for _, tt := range []struct {
		path     string
		deadline time.Duration
		wantErr  string
		hits     int32
	}{
		{path: "/stop", hits: 1},
		{path: "/moved", hits: 2},
		{path: "/broken", wantErr: "500", hits: 1},
		{path: "/slow", deadline: 1500 * time.Millisecond, wantErr: "httpGet /slow", hits: 1},
	} {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			hits.Store(0)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			began := time.Now()
			err := w.httpHook(ctx, c, "ctr", &v1.HTTPGetAction{Path: tt.path, Port: intstr.FromString("web")})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("hook failed: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if got := hits.Load(); got != tt.hits {
				t.Errorf("server saw %d requests, want %d", got, tt.hits)
			}
			if tt.deadline > 0 && time.Since(began) > tt.deadline+2*time.Second {
				t.Errorf("hook ran %s past a deadline of %s", time.Since(began), tt.deadline)
			}
		})
	}
}
