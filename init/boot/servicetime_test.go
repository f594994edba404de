package boot

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/supervise"
)

// serveCloud answers GET /cloud on a unix socket the way edgecore's
// inspect socket does: codes in turn, the last one for good.
func serveCloud(t *testing.T, codes ...int) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "inspect.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cloud" {
			http.NotFound(w, r)
			return
		}
		i := min(int(n.Add(1))-1, len(codes)-1)
		w.WriteHeader(codes[i])
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func timedSystem(specs ...config.Service) *System {
	c := &config.Config{Services: specs}
	c.ApplyDefaults() // as init's config comes
	return &System{Console: NewConsole(os.Stderr), Config: c, timeline: newBootTimeline(time.Now())}
}

func edgecoreSpec(socket string) config.Service {
	return config.Service{Name: "edgecore", DependsOn: []string{"containerd"},
		Health: config.HealthCheck{Kind: config.HealthHTTP, URL: "http://edgecore/healthz", Address: socket}}
}

func waitComplete(t *testing.T, s *System) {
	t.Helper()
	select {
	case <-s.timeline.Complete():
	case <-time.After(10 * time.Second):
		steps, missing := s.timeline.Steps()
		t.Fatalf("timeline not complete: %+v, missing %v", steps, missing)
	}
}

// TestServiceSteps: a service's step runs from its first start to its
// first healthy check (to its start, without a check); edgecore's cloud
// step ends when its inspect socket says it is connected.
func TestServiceSteps(t *testing.T) {
	ctx := context.Background()
	sock := serveCloud(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusOK)
	s := timedSystem(
		config.Service{Name: "containerd", Health: config.HealthCheck{Kind: config.HealthHTTP, URL: "http://containerd/", Address: "/nonexistent"}},
		config.Service{Name: "jobs"},
		edgecoreSpec(sock),
	)
	s.expectServices(s.Config.Services)
	s.timeline.AllExpected()
	for _, e := range []supervise.Event{
		{Service: "containerd", Kind: supervise.EventStarted, PID: 10},
		{Service: "containerd", Kind: supervise.EventExited},
		{Service: "containerd", Kind: supervise.EventStarted, PID: 11}, // a restart keeps the first start
		{Service: "jobs", Kind: supervise.EventStarted, PID: 12},
		{Service: "containerd", Kind: supervise.EventHealthy, PID: 11},
		{Service: "edgecore", Kind: supervise.EventStarted, PID: 13},
		{Service: "edgecore", Kind: supervise.EventHealthy, PID: 13},
		{Service: "unknown", Kind: supervise.EventStarted, PID: 14},
	} {
		s.timeService(ctx, e)
	}
	waitComplete(t, s)
	steps, missing := s.timeline.Steps()
	got := map[string]bool{}
	for _, st := range steps {
		got[st.Name] = st.Done
	}
	for _, n := range []string{"service:containerd", "service:jobs", "service:edgecore", "cloud"} {
		if !got[n] {
			t.Errorf("step %s missing or not ended: %+v", n, steps)
		}
	}
	if len(missing) > 0 || len(got) != 5 { // the four and the kernel
		t.Errorf("steps %+v, missing %v", steps, missing)
	}
}

// Without a cloud link (404), the cloud step is dropped and the timeline
// completes at edgecore's health.
func TestCloudStepDroppedWithoutCloud(t *testing.T) {
	s := timedSystem(edgecoreSpec(serveCloud(t, http.StatusNotFound)))
	s.expectServices(s.Config.Services)
	s.timeline.AllExpected()
	s.timeService(context.Background(), supervise.Event{Service: "edgecore", Kind: supervise.EventStarted, PID: 1})
	s.timeService(context.Background(), supervise.Event{Service: "edgecore", Kind: supervise.EventHealthy, PID: 1})
	waitComplete(t, s)
	steps, _ := s.timeline.Steps()
	for _, st := range steps {
		if st.Name == "cloud" {
			t.Errorf("cloud step kept without a cloud: %+v", steps)
		}
	}
}

func TestReadMemory(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, meminfo string
		used          int64
		bad           bool
	}{
		{"both", "MemTotal:        486660 kB\nMemFree:  1000 kB\nMemAvailable:    381112 kB\n", 105548, false},
		{"no MemAvailable", "MemTotal:        486660 kB\nMemFree:  1000 kB\n", 0, true},
		{"not a number", "MemTotal:        lots kB\nMemAvailable:    381112 kB\n", 0, true},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte(tt.meminfo), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readMemory(p)
		if (err != nil) != tt.bad || m.used() != tt.used {
			t.Errorf("%s: readMemory = %+v (used %d), %v", tt.name, m, m.used(), err)
		}
	}
}
