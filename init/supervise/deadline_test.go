package supervise

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/init/config"
)

func health(h config.HealthCheck) func(*config.Service) {
	return func(s *config.Service) { s.Health = h }
}

// TestStartDeadlineRestartsWithGrowingBackoff: a service that never
// passes its health check is restarted at its start deadline, with the
// backoff growing (its runs were never healthy, however long they
// lasted), and what depends on it keeps waiting instead of starting.
func TestStartDeadlineRestartsWithGrowingBackoff(t *testing.T) {
	const deadline = 3 * time.Minute // longer than the backoff's stable period
	// Interval and grace differ from the backoff delays, which the test
	// finds on the fake clock by their length.
	never := shService("never", "while :; do sleep 0.02; done", grace(30*time.Second), health(config.HealthCheck{
		Kind: config.HealthExec, Command: []string{"/bin/false"}, Interval: config.Duration(7 * time.Second),
		Timeout: config.Duration(time.Second), FailureThreshold: 1, StartTimeout: config.Duration(deadline)}))
	app := shService("app", "sleep 1000", dependsOn("never"))
	clk := newFakeClock()
	ev := newEvents()
	sup, err := New([]config.Service{never, app}, Options{OnEvent: ev.add, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	defer stopped(t, sup)

	for _, wantDelay := range []time.Duration{time.Second, 2 * time.Second} {
		ev.next(t, "never", EventStarted)
		clk.waitTimer(t, deadline)
		clk.Advance(deadline)
		late := ev.next(t, "never", EventStartTimeout)
		if want := "service never did not become healthy, restarting: not healthy 3m0s after its start, last check: /bin/false: status 1"; late.String() != want {
			t.Fatalf("event %q, want %q", late, want)
		}
		e := ev.next(t, "never", EventExited)
		if e.Exit.Signal != syscall.SIGTERM || e.Restart != wantDelay {
			t.Fatalf("event %q, want ended by SIGTERM and restart in %v", e, wantDelay)
		}
		clk.waitTimer(t, wantDelay)
		clk.Advance(wantDelay)
	}
	ev.next(t, "never", EventStarted)
	for _, st := range sup.Status() {
		if st.Name == "app" && st.State != StateWaiting {
			t.Fatalf("app is %s, want still waiting for never", st.State)
		}
	}
	for _, l := range ev.lines() {
		if strings.HasPrefix(l, "service app started") {
			t.Fatalf("app started though never was never healthy: %v", ev.lines())
		}
	}
}

// TestStartDeadlineSparesHealthyService: the deadline ends with the first
// passing check; a healthy service is not restarted when it passes.
func TestStartDeadlineSparesHealthyService(t *testing.T) {
	s := shService("fine", "while :; do sleep 0.02; done", health(config.HealthCheck{
		Kind: config.HealthExec, Command: []string{"/bin/true"}, Interval: config.Duration(time.Second),
		Timeout: config.Duration(time.Second), FailureThreshold: 1, StartTimeout: config.Duration(time.Minute)}))
	clk := newFakeClock()
	ev := newEvents()
	sup, err := New([]config.Service{s}, Options{OnEvent: ev.add, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	healthy := ev.next(t, "fine", EventHealthy)
	clk.Advance(time.Minute)
	clk.waitTimer(t, time.Second) // the check after the minute ran
	stopped(t, sup)
	for _, e := range ev.all {
		if e.Kind == EventStartTimeout || (e.Kind == EventStarted && e.PID != healthy.PID) {
			t.Fatalf("healthy service restarted: %v", ev.lines())
		}
	}
}

// TestHTTPHealthThroughUnixSocket is how init asks edgecore: GET /healthz
// on its inspect socket answers 503 naming the modules not running until
// they all run. Only then is the service healthy and its dependents start.
func TestHTTPHealthThroughUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "inspect.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var running atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if !running.Load() {
			http.Error(w, "modules not running: edged (failed)", http.StatusServiceUnavailable)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	core := shService("core", "while :; do sleep 0.02; done", health(config.HealthCheck{
		Kind: config.HealthHTTP, URL: "http://edgecore/healthz", Address: sock,
		Interval: config.Duration(20 * time.Millisecond), Timeout: config.Duration(time.Second), FailureThreshold: 3}))
	app := shService("app", "sleep 1000", dependsOn("core"))
	ev := newEvents()
	sup, err := New([]config.Service{core, app}, Options{OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	defer stopped(t, sup)
	ev.next(t, "app", EventWaiting)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = newChecker(core.Health, DirectStarter{})(ctx)
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: modules not running: edged (failed)") {
		t.Fatalf("check while modules are down = %v, want 503 naming edged", err)
	}
	running.Store(true)
	ev.next(t, "core", EventHealthy)
	ev.next(t, "app", EventStarted)
}
