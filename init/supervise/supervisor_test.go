package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/config"
)

// fakeClock lets a test step through backoff delays. Timers are only
// fired by Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	d  time.Duration
	c  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1)
	if d <= 0 {
		c <- f.now
		return c
	}
	f.timers = append(f.timers, fakeTimer{at: f.now.Add(d), d: d, c: c})
	return c
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			t.c <- f.now
		} else {
			kept = append(kept, t)
		}
	}
	f.timers = kept
}

// waitTimer waits (in real time) until someone waits for d on the clock.
func (f *fakeClock) waitTimer(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, tm := range f.timers {
			if tm.d == d {
				f.mu.Unlock()
				return
			}
		}
		f.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("nobody waits %v on the clock", d)
}

// events collects supervisor events for a test.
type events struct {
	ch  chan Event
	mu  sync.Mutex
	all []Event
}

func newEvents() *events { return &events{ch: make(chan Event, 1000)} }

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	e.ch <- ev
}

// next returns the next event of kind for service (skipping others).
func (e *events) next(t *testing.T, service string, kind EventKind) Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Service == service && ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event %d for %s; seen: %v", kind, service, e.lines())
		}
	}
}

func (e *events) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.String())
	}
	return out
}

func shService(name, script string, mods ...func(*config.Service)) config.Service {
	s := config.Service{Name: name, Path: "/bin/sh", Args: []string{"-c", script}}
	for _, m := range mods {
		m(&s)
	}
	c := config.Config{Services: []config.Service{s}}
	c.ApplyDefaults()
	return c.Services[0]
}

func grace(d time.Duration) func(*config.Service) {
	return func(s *config.Service) { s.GracePeriod = config.Duration(d) }
}

func dependsOn(names ...string) func(*config.Service) {
	return func(s *config.Service) { s.DependsOn = names }
}

func stopped(t *testing.T, sup *Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

func TestCrashRestartsWithGrowingDelayAndKeepsLog(t *testing.T) {
	dir := t.TempDir()
	trigger := filepath.Join(dir, "crash")
	// Each run says which it is, then crashes when the test says so.
	script := `echo "run $$ up"; while [ ! -e ` + trigger + ` ]; do sleep 0.01; done; rm -f ` + trigger + `; echo "run $$ crashing" >&2; exit 3`
	clk := newFakeClock()
	ev := newEvents()
	var console bytes.Buffer
	sup, err := New([]config.Service{shService("crashy", script)}, Options{
		LogDir: dir, Console: &lockedWriter{w: &console}, OnEvent: ev.add, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())

	crash := func(wantDelay time.Duration) {
		t.Helper()
		ev.next(t, "crashy", EventStarted)
		if err := os.WriteFile(trigger, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		e := ev.next(t, "crashy", EventExited)
		if e.Exit.Code != 3 || e.Restart != wantDelay {
			t.Fatalf("event %q: want exit status 3 and restart in %v", e, wantDelay)
		}
		if want := "exited status 3, restart in " + wantDelay.String(); !strings.Contains(e.String(), want) {
			t.Fatalf("console line %q lacks %q", e, want)
		}
		clk.waitTimer(t, wantDelay)
		clk.Advance(wantDelay)
	}
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		crash(d)
	}
	// A run longer than the stable period resets the backoff.
	ev.next(t, "crashy", EventStarted)
	clk.Advance(DefaultBackoff().Stable)
	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, "crashy", EventExited); e.Restart != time.Second {
		t.Fatalf("after a stable run: %q, want restart in 1s", e)
	}

	st := sup.Status()[0]
	if st.Restarts != 5 || st.LastExit != "status 3" || st.State != StateBackoff || st.PID != 0 {
		t.Fatalf("status %+v", st)
	}
	stopped(t, sup)

	ring, _ := sup.Logs("crashy")
	file, err := os.ReadFile(filepath.Join(dir, "crashy.log"))
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"ring": ring, "file": file, "console": console.Bytes()} {
		if n := bytes.Count(out, []byte("crashing")); n != 5 {
			t.Errorf("%s holds %d crash lines, want 5:\n%s", name, n, out)
		}
	}
	if !bytes.Contains(console.Bytes(), []byte("crashy: run ")) {
		t.Errorf("console lines are not prefixed with the service name:\n%s", console.Bytes())
	}
}

func TestStartWaitsForDependencyHealthAndStopsInReverse(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	ready := filepath.Join(dir, "db.ready")
	// Each service records its start and, on SIGTERM, its stop.
	svc := func(name, extra string) string {
		return `trap 'echo "stop ` + name + `" >> ` + order + `; exit 0' TERM; echo "start ` + name + `" >> ` + order + `; ` + extra + ` while :; do sleep 0.02; done`
	}
	db := shService("db", svc("db", "sleep 0.3; touch "+ready+";"), func(s *config.Service) {
		s.Health = config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/test", "-e", ready},
			Interval: config.Duration(50 * time.Millisecond), Timeout: config.Duration(time.Second), FailureThreshold: 3}
	})
	// app is healthy once it wrote its start line, so web's comes after
	// it (with kind none, web could start before app's shell ran).
	app := shService("app", svc("app", "test -e "+ready+" || echo 'started before db was ready' >> "+order+";"), dependsOn("db"), func(s *config.Service) {
		s.Health = config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/grep", "-q", "start app", order},
			Interval: config.Duration(20 * time.Millisecond), Timeout: config.Duration(time.Second), FailureThreshold: 3}
	})
	web := shService("web", svc("web", ""), dependsOn("app"))
	side := shService("side", svc("side", ""))

	reaper := NewReaper(nil)
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go reaper.Run(rctx)

	ev := newEvents()
	// Listed out of order on purpose: the graph decides.
	sup, err := New([]config.Service{web, app, db, side}, Options{OnEvent: ev.add, Starter: reaper})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	ev.next(t, "db", EventHealthy)
	ev.next(t, "web", EventStarted)
	waitFile(t, order)
	// Wait until all four wrote their start line.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && strings.Count(readFile(t, order), "start") < 4 {
		time.Sleep(10 * time.Millisecond)
	}
	stopped(t, sup)

	lines := strings.Split(strings.TrimSpace(readFile(t, order)), "\n")
	pos := map[string]int{}
	for i, l := range lines {
		pos[l] = i
	}
	if _, bad := pos["started before db was ready"]; bad {
		t.Fatalf("app started before db was healthy: %v", lines)
	}
	for _, pair := range [][2]string{
		{"start db", "start app"}, {"start app", "start web"},
		{"stop web", "stop app"}, {"stop app", "stop db"},
	} {
		a, aok := pos[pair[0]]
		b, bok := pos[pair[1]]
		if !aok || !bok || a > b {
			t.Fatalf("want %q before %q; order was %v", pair[0], pair[1], lines)
		}
	}
	for _, st := range sup.Status() {
		if st.State != StateStopped || st.PID != 0 {
			t.Errorf("after stop: %+v", st)
		}
	}
	if _, ok := pos["stop side"]; !ok {
		t.Errorf("independent service not stopped: %v", lines)
	}
}

func TestStopKillsGroupIgnoringSIGTERMAfterGrace(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child.pid")
	// The shell and its background child both ignore SIGTERM.
	script := `trap '' TERM; sleep 1000 & echo $! > ` + child + `; while :; do sleep 0.02; done`
	ev := newEvents()
	sup, err := New([]config.Service{shService("stubborn", script, grace(300*time.Millisecond))}, Options{OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	ev.next(t, "stubborn", EventStarted)
	waitFile(t, child)
	start := time.Now()
	stopped(t, sup)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("stopped after %v, before the grace period", took)
	}
	e := ev.next(t, "stubborn", EventStopped)
	if e.Exit.Signal != syscall.SIGKILL {
		t.Fatalf("event %q, want killed by SIGKILL", e)
	}
	var pid int
	if _, err := fmt.Sscan(readFile(t, child), &pid); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for unix.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d outlived its service", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnhealthyServiceIsRestarted(t *testing.T) {
	dir := t.TempDir()
	alive := filepath.Join(dir, "alive")
	script := `touch ` + alive + `; while :; do sleep 0.02; done`
	s := shService("flaky", script, grace(time.Second), func(s *config.Service) {
		s.Health = config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/test", "-e", alive},
			Interval: config.Duration(30 * time.Millisecond), Timeout: config.Duration(time.Second), FailureThreshold: 2}
	})
	ev := newEvents()
	sup, err := New([]config.Service{s}, Options{OnEvent: ev.add, Backoff: Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Stable: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	defer stopped(t, sup)
	first := ev.next(t, "flaky", EventHealthy)
	os.Remove(alive)
	u := ev.next(t, "flaky", EventUnhealthy)
	if !strings.Contains(u.String(), "2 health checks failed") {
		t.Fatalf("unhealthy event %q", u)
	}
	if e := ev.next(t, "flaky", EventExited); e.Exit.Signal != syscall.SIGTERM {
		t.Fatalf("unhealthy service ended with %q, want SIGTERM", e)
	}
	again := ev.next(t, "flaky", EventHealthy)
	if again.PID == first.PID {
		t.Fatal("service was not restarted")
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy  string
		script  string
		restart bool
	}{
		{config.RestartAlways, "exit 0", true},
		{config.RestartOnFailure, "exit 0", false},
		{config.RestartOnFailure, "exit 1", true},
		{config.RestartNever, "exit 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.policy+" "+tt.script, func(t *testing.T) {
			ev := newEvents()
			s := shService("p", tt.script, func(s *config.Service) { s.Restart = tt.policy })
			sup, err := New([]config.Service{s}, Options{OnEvent: ev.add, Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			sup.Start(context.Background())
			defer stopped(t, sup)
			e := ev.next(t, "p", EventExited)
			if got := e.Restart >= 0; got != tt.restart {
				t.Fatalf("%q: restart = %v, want %v", e, got, tt.restart)
			}
			if !tt.restart && sup.Status()[0].State != StateFinished {
				t.Fatalf("state %s, want finished", sup.Status()[0].State)
			}
		})
	}
}

func TestStartFailureIsRetried(t *testing.T) {
	s := shService("ghost", "")
	s.Path = "/nonexistent/binary"
	ev := newEvents()
	clk := newFakeClock()
	sup, err := New([]config.Service{s}, Options{OnEvent: ev.add, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sup.Start(context.Background())
	defer stopped(t, sup)
	e := ev.next(t, "ghost", EventStartFailed)
	if !strings.Contains(e.String(), "/nonexistent/binary") || e.Restart != time.Second {
		t.Fatalf("event %q", e)
	}
	clk.waitTimer(t, time.Second)
	clk.Advance(time.Second)
	if e := ev.next(t, "ghost", EventStartFailed); e.Restart != 2*time.Second {
		t.Fatalf("second failure %q, want restart in 2s", e)
	}
}

func TestNewRejectsBadGraph(t *testing.T) {
	a := shService("a", "", dependsOn("b"))
	b := shService("b", "", dependsOn("a"))
	if _, err := New([]config.Service{a, b}, Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	if _, err := New([]config.Service{shService("a", "", dependsOn("zz"))}, Options{}); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Fatalf("unknown dep: %v", err)
	}
}

func TestHealthCheckers(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	closedTCP := func() string { l, _ := net.Listen("tcp", "127.0.0.1:0"); a := l.Addr().String(); l.Close(); return a }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name string
		h    config.HealthCheck
		ok   bool
	}{
		{"unix up", config.HealthCheck{Kind: config.HealthUnix, Address: sock}, true},
		{"unix missing", config.HealthCheck{Kind: config.HealthUnix, Address: filepath.Join(dir, "none.sock")}, false},
		{"tcp up", config.HealthCheck{Kind: config.HealthTCP, Address: tl.Addr().String()}, true},
		{"tcp refused", config.HealthCheck{Kind: config.HealthTCP, Address: closedTCP}, false},
		{"exec true", config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/true"}}, true},
		{"exec false", config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/false"}}, false},
		{"exec hangs", config.HealthCheck{Kind: config.HealthExec, Command: []string{"/bin/sleep", "10"}}, false},
		{"http 200", config.HealthCheck{Kind: config.HealthHTTP, URL: srv.URL + "/healthz"}, true},
		{"http 503", config.HealthCheck{Kind: config.HealthHTTP, URL: srv.URL + "/other"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := newChecker(tt.h, DirectStarter{})(ctx)
			if (err == nil) != tt.ok {
				t.Fatalf("check = %v, want ok %v", err, tt.ok)
			}
		})
	}
	if newChecker(config.HealthCheck{Kind: config.HealthNone}, DirectStarter{}) != nil {
		t.Fatal("kind none must have no checker")
	}
}

func TestReaperDeliversStatusAndReportsOrphans(t *testing.T) {
	// Become a subreaper so the orphan comes back to this process, as it
	// would to PID 1.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	orphans := make(chan int, 4)
	r := NewReaper(func(pid int, e Exit) { orphans <- pid })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	e, err := r.RunCommand(ctx, exec.Command("/bin/sh", "-c", "exit 7"))
	if err != nil || e.Code != 7 {
		t.Fatalf("RunCommand = %v, %v; want status 7", e, err)
	}
	cmd := exec.Command("/bin/sh", "-c", "sleep 0.1 & echo $!")
	out, w, _ := os.Pipe()
	cmd.Stdout = w
	if e, err := r.RunCommand(ctx, cmd); err != nil || !e.Success() {
		t.Fatalf("RunCommand = %v, %v", e, err)
	}
	w.Close()
	var orphan int
	if _, err := fmt.Fscan(out, &orphan); err != nil {
		t.Fatal(err)
	}
	select {
	case pid := <-orphans:
		if pid != orphan {
			t.Fatalf("orphan reported %d, want %d", pid, orphan)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("orphan not reaped")
	}
	if _, err := r.RunCommand(ctx, exec.Command("/nonexistent")); err == nil {
		t.Fatal("start of a missing binary succeeded")
	}
	cancel()
	if err := r.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v", err)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStartAfterStopRunsNothing(t *testing.T) {
	ev := newEvents()
	sup, err := New([]config.Service{shService("late", "sleep 1000")}, Options{OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	stopped(t, sup)
	sup.Start(context.Background())
	time.Sleep(50 * time.Millisecond)
	if st := sup.Status()[0]; st.State != StateIdle || st.PID != 0 || len(ev.lines()) != 0 {
		t.Fatalf("service ran after Stop: %+v %v", st, ev.lines())
	}
}
