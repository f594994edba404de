package prober

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// outcome is one scripted answer of scriptExec.
type outcome struct {
	code int
	err  error
}

var (
	pass   = outcome{code: 0}
	fail   = outcome{code: 1}
	broken = outcome{err: errors.New("exec: runtime unavailable")}
)

// scriptExec answers exec probes from a script, one outcome per call, and
// calls exhausted when the script runs out so that the test can end the run.
type scriptExec struct {
	mu        sync.Mutex
	script    []outcome
	calls     []time.Time
	exhausted func()
}

func (s *scriptExec) Exec(ctx context.Context, _ string, _ []string) (int, []byte, error) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, time.Now())
	s.mu.Unlock()
	if n >= len(s.script) {
		if s.exhausted != nil {
			s.exhausted()
		}
		<-ctx.Done()
		return -1, nil, ctx.Err()
	}
	o := s.script[n]
	return o.code, []byte(fmt.Sprintf("call %d", n+1)), o.err
}

func (s *scriptExec) callTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// changeLog records the results a Worker reports.
type changeLog struct {
	mu      sync.Mutex
	changes []Result
}

func (c *changeLog) add(r Result) {
	c.mu.Lock()
	c.changes = append(c.changes, r)
	c.mu.Unlock()
}

func (c *changeLog) get() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}

// runWorker runs w and fails the test if it does not return within limit.
func runWorker(t *testing.T, ctx context.Context, w *Worker, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		w.Stop()
		<-done
		t.Fatalf("Run did not return within %v", limit)
	}
}

// waitFor polls cond until it holds or fails the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWorkerTransitions(t *testing.T) {
	tests := []struct {
		name      string
		kind      Kind
		success   int32
		failure   int32
		script    []outcome
		want      []Result
		wantFinal Result
		wantCalls int // exec calls made; len(script)+1 means the worker probed until stopped
	}{
		{
			name: "readiness up and down", kind: Readiness,
			script: []outcome{pass, fail, fail, pass, fail, fail, fail},
			want:   []Result{Success, Failure}, wantFinal: Failure, wantCalls: 8,
		},
		{
			name: "readiness successThreshold", kind: Readiness, success: 2,
			script: []outcome{pass, fail, pass, pass},
			want:   []Result{Success}, wantFinal: Success, wantCalls: 5,
		},
		{
			name: "readiness errors are retried and discarded", kind: Readiness,
			script: []outcome{broken, broken, broken, broken, pass},
			want:   []Result{Success}, wantFinal: Success, wantCalls: 6,
		},
		{
			name: "liveness errors neither count nor break a run", kind: Liveness,
			script: []outcome{fail, broken, broken, broken, fail, fail, pass},
			want:   []Result{Failure}, wantFinal: Failure, wantCalls: 6,
		},
		{
			name: "liveness stays quiet while healthy", kind: Liveness,
			script: []outcome{pass, fail, pass, fail, fail, pass},
			want:   nil, wantFinal: Success, wantCalls: 7,
		},
		{
			name: "startup succeeds once and stops", kind: Startup,
			script: []outcome{fail, fail, pass, pass},
			want:   []Result{Success}, wantFinal: Success, wantCalls: 3,
		},
		{
			name: "startup fails and stops", kind: Startup, failure: 2,
			script: []outcome{fail, fail, pass},
			want:   []Result{Failure}, wantFinal: Failure, wantCalls: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ex := &scriptExec{script: tc.script, exhausted: cancel}
			p := execProbe("check")
			p.SuccessThreshold, p.FailureThreshold, p.PeriodSeconds = tc.success, tc.failure, 1
			var log changeLog
			w := NewWorker(tc.kind, p, Target{ContainerID: "c"}, ex, log.add, withTimeUnit(time.Millisecond))

			runWorker(t, ctx, w, 5*time.Second)

			if got := log.get(); !slices.Equal(got, tc.want) {
				t.Errorf("changes = %v, want %v", got, tc.want)
			}
			if got := w.Result(); got != tc.wantFinal {
				t.Errorf("Result() = %v, want %v", got, tc.wantFinal)
			}
			if got := len(ex.callTimes()); got != tc.wantCalls {
				t.Errorf("exec calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestWorkerInitialResults(t *testing.T) {
	p := execProbe("check")
	for kind, want := range map[Kind]Result{Readiness: Failure, Liveness: Success, Startup: Unknown} {
		if got := NewWorker(kind, p, Target{}, nil, nil).Result(); got != want {
			t.Errorf("%v worker starts as %v, want %v", kind, got, want)
		}
	}
}

func TestWorkerObserverSeesEveryAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex := &scriptExec{script: []outcome{fail, broken, broken, broken, pass}, exhausted: cancel}
	type seen struct {
		r   Result
		msg string
	}
	var mu sync.Mutex
	var got []seen
	observe := func(r Result, msg string) {
		mu.Lock()
		got = append(got, seen{r, msg})
		mu.Unlock()
	}
	p := execProbe("check")
	p.PeriodSeconds = 1
	w := NewWorker(Readiness, p, Target{ContainerID: "c"}, ex, nil, WithObserver(observe), withTimeUnit(time.Millisecond))

	runWorker(t, ctx, w, 5*time.Second)

	mu.Lock()
	defer mu.Unlock()
	want := []seen{
		{Failure, "call 1"},
		{Unknown, `exec probe "check" in container c: exec: runtime unavailable`},
		{Success, "call 5"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

func TestWorkerPeriod(t *testing.T) {
	const period = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex := &scriptExec{script: []outcome{pass, pass, pass}, exhausted: cancel}
	p := execProbe("check")
	p.PeriodSeconds = 50
	w := NewWorker(Readiness, p, Target{ContainerID: "c"}, ex, nil, withTimeUnit(time.Millisecond))

	start := time.Now()
	runWorker(t, ctx, w, 5*time.Second)

	calls := ex.callTimes()
	if len(calls) != 4 {
		t.Fatalf("exec calls = %d, want 4", len(calls))
	}
	// The first probe runs at once, the k-th no earlier than k periods later.
	if first := calls[0].Sub(start); first >= period {
		t.Errorf("first probe after %v, want right away (well before the %v period)", first, period)
	}
	for k, at := range calls {
		if earliest := time.Duration(k) * period; at.Sub(start) < earliest {
			t.Errorf("probe %d after %v, want no earlier than %v", k+1, at.Sub(start), earliest)
		}
	}
}

func TestWorkerInitialDelay(t *testing.T) {
	// initialDelaySeconds 60 in 5ms units is 300ms; the period is 25ms.
	const delay = 300 * time.Millisecond
	tests := []struct {
		name       string
		startedAgo time.Duration // container start before Run; 0 means unset
		wantAfter  time.Duration // earliest first probe, from Run
		wantBefore time.Duration
	}{
		{name: "counted from Run", wantAfter: delay, wantBefore: 5 * time.Second},
		{name: "counted from container start", startedAgo: 200 * time.Millisecond, wantAfter: 100 * time.Millisecond, wantBefore: delay},
		{name: "long over", startedAgo: time.Hour, wantAfter: 0, wantBefore: delay / 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ex := &scriptExec{exhausted: cancel}
			p := execProbe("check")
			p.InitialDelaySeconds, p.PeriodSeconds = 60, 5
			target := Target{ContainerID: "c"}
			start := time.Now()
			if tc.startedAgo > 0 {
				target.StartedAt = start.Add(-tc.startedAgo)
			}
			w := NewWorker(Liveness, p, target, ex, nil, withTimeUnit(5*time.Millisecond))

			runWorker(t, ctx, w, 5*time.Second)

			calls := ex.callTimes()
			if len(calls) != 1 {
				t.Fatalf("exec calls = %d, want 1", len(calls))
			}
			if first := calls[0].Sub(start); first < tc.wantAfter || first >= tc.wantBefore {
				t.Errorf("first probe after %v, want in [%v, %v)", first, tc.wantAfter, tc.wantBefore)
			}
		})
	}
}

func TestWorkerGate(t *testing.T) {
	tests := []struct {
		kind         Kind
		probesOnOpen bool
	}{
		{kind: Readiness, probesOnOpen: true},
		{kind: Liveness, probesOnOpen: false},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String(), func(t *testing.T) {
			ex := &scriptExec{script: []outcome{pass, pass}}
			gate := make(chan struct{})
			// A period of ten minutes: any probe within the test comes from
			// the start of Run or from the gate opening.
			w := NewWorker(tc.kind, execProbe("check"), Target{ContainerID: "c"}, ex, nil,
				WithGate(gate), withTimeUnit(time.Minute))
			done := make(chan struct{})
			go func() {
				defer close(done)
				w.Run(context.Background())
			}()
			defer func() {
				w.Stop()
				<-done
			}()

			time.Sleep(30 * time.Millisecond)
			if n := len(ex.callTimes()); n != 0 {
				t.Fatalf("%d probes while the gate was shut, want none", n)
			}
			close(gate)
			if tc.probesOnOpen {
				waitFor(t, 2*time.Second, "a probe after the gate opened", func() bool { return len(ex.callTimes()) == 1 })
				waitFor(t, 2*time.Second, "readiness to turn Success", func() bool { return w.Result() == Success })
				return
			}
			time.Sleep(50 * time.Millisecond)
			if n := len(ex.callTimes()); n != 0 {
				t.Errorf("%d probes before the next period, want none", n)
			}
		})
	}
}

func TestWorkerOpenGateDoesNotDoubleProbe(t *testing.T) {
	ex := &scriptExec{script: []outcome{pass, pass}}
	gate := make(chan struct{})
	close(gate)
	w := NewWorker(Readiness, execProbe("check"), Target{ContainerID: "c"}, ex, nil, WithGate(gate), withTimeUnit(time.Minute))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(context.Background())
	}()
	waitFor(t, 2*time.Second, "the first probe", func() bool { return len(ex.callTimes()) == 1 })
	time.Sleep(50 * time.Millisecond)
	w.Stop()
	<-done
	if n := len(ex.callTimes()); n != 1 {
		t.Errorf("%d probes within the first period, want 1", n)
	}
}

func TestWorkerGateThenPeriod(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex := &scriptExec{script: []outcome{fail, fail, fail}, exhausted: cancel}
	gate := make(chan struct{})
	close(gate)
	p := execProbe("check")
	p.PeriodSeconds = 1
	var log changeLog
	w := NewWorker(Liveness, p, Target{ContainerID: "c"}, ex, log.add, WithGate(gate), withTimeUnit(time.Millisecond))

	runWorker(t, ctx, w, 5*time.Second)

	if got := log.get(); !slices.Equal(got, []Result{Failure}) {
		t.Errorf("changes = %v, want [Failure]", got)
	}
}

func TestWorkerStop(t *testing.T) {
	t.Run("interrupts a probe, which does not count", func(t *testing.T) {
		started := make(chan struct{})
		ex := execFunc(func(ctx context.Context, _ string, _ []string) (int, []byte, error) {
			close(started)
			<-ctx.Done()
			return -1, nil, ctx.Err()
		})
		var observed, changed int
		var mu sync.Mutex
		p := execProbe("check")
		p.FailureThreshold = 1
		w := NewWorker(Liveness, p, Target{ContainerID: "c"}, ex,
			func(Result) { mu.Lock(); changed++; mu.Unlock() },
			WithObserver(func(Result, string) { mu.Lock(); observed++; mu.Unlock() }))
		go func() {
			<-started
			w.Stop()
		}()
		runWorker(t, context.Background(), w, 5*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if observed != 0 || changed != 0 {
			t.Errorf("interrupted probe reported: %d observations, %d changes; want none", observed, changed)
		}
		if w.Result() != Success {
			t.Errorf("Result() = %v, want the initial Success", w.Result())
		}
	})
	t.Run("before Run", func(t *testing.T) {
		ex := &scriptExec{}
		w := NewWorker(Readiness, execProbe("check"), Target{ContainerID: "c"}, ex, nil)
		w.Stop()
		w.Stop() // idempotent
		runWorker(t, context.Background(), w, time.Second)
		if n := len(ex.callTimes()); n != 0 {
			t.Errorf("%d probes after Stop, want none", n)
		}
	})
	t.Run("context end", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ex := &scriptExec{script: []outcome{pass}}
		w := NewWorker(Readiness, execProbe("check"), Target{ContainerID: "c"}, ex, nil, withTimeUnit(time.Hour))
		go func() {
			waitFor(t, 2*time.Second, "the first probe", func() bool { return len(ex.callTimes()) == 1 })
			cancel()
		}()
		runWorker(t, ctx, w, 5*time.Second)
	})
	t.Run("nil probe", func(t *testing.T) {
		w := NewWorker(Readiness, nil, Target{}, nil, nil)
		runWorker(t, context.Background(), w, time.Second)
		if w.Result() != Failure {
			t.Errorf("Result() = %v, want the initial Failure", w.Result())
		}
	})
}

func TestWorkerStartJitter(t *testing.T) {
	t.Run("first probe within one period", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ex := &scriptExec{exhausted: cancel}
		p := execProbe("check")
		p.PeriodSeconds = 10
		w := NewWorker(Readiness, p, Target{ContainerID: "c"}, ex, nil, WithStartJitter(), withTimeUnit(10*time.Millisecond))
		start := time.Now()
		runWorker(t, ctx, w, 5*time.Second)
		calls := ex.callTimes()
		if len(calls) != 1 || calls[0].Sub(start) > time.Second {
			t.Errorf("probes at %v after start, want one within the 100ms period", calls)
		}
	})
	t.Run("Stop ends the wait", func(t *testing.T) {
		ex := &scriptExec{script: []outcome{pass}}
		w := NewWorker(Readiness, execProbe("check"), Target{ContainerID: "c"}, ex, nil, WithStartJitter(), withTimeUnit(time.Hour))
		go func() {
			time.Sleep(20 * time.Millisecond)
			w.Stop()
		}()
		runWorker(t, context.Background(), w, 5*time.Second)
	})
}

func TestWorkerScalesTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var msgs []string
	p := execProbe("check")
	p.TimeoutSeconds, p.FailureThreshold, p.PeriodSeconds = 20, 1, 1
	var log changeLog
	w := NewWorker(Liveness, p, Target{ContainerID: "c"}, blockingExec, log.add,
		WithObserver(func(_ Result, msg string) { mu.Lock(); msgs = append(msgs, msg); mu.Unlock() }),
		withTimeUnit(time.Millisecond))

	runWorker(t, ctx, w, 5*time.Second)

	if got := log.get(); !slices.Equal(got, []Result{Failure}) {
		t.Errorf("changes = %v, want [Failure] from the timed-out exec", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{`command "check" timed out after 20ms: partial`}; !slices.Equal(msgs, want) {
		t.Errorf("observed %q, want %q", msgs, want)
	}
}

// TestWorkerProbesHTTP runs a Worker against a real server end to end.
func TestWorkerProbesHTTP(t *testing.T) {
	srv := newFlipServer(t)
	host, port := serverAddr(t, srv.url)
	p := httpProbe(port, "/")
	p.PeriodSeconds, p.FailureThreshold = 1, 2
	var log changeLog
	w := NewWorker(Readiness, p, Target{PodIP: host}, nil, log.add, withTimeUnit(5*time.Millisecond))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(context.Background())
	}()
	defer func() {
		w.Stop()
		<-done
	}()

	waitFor(t, 2*time.Second, "ready", func() bool { return w.Result() == Success })
	srv.setHealthy(false)
	waitFor(t, 2*time.Second, "unready", func() bool { return w.Result() == Failure })
	if got := log.get(); !slices.Equal(got, []Result{Success, Failure}) {
		t.Errorf("changes = %v, want [Success Failure]", got)
	}
}

// flipServer answers 200 while healthy and 503 otherwise.
type flipServer struct {
	url       string
	unhealthy atomic.Bool
}

func newFlipServer(t *testing.T) *flipServer {
	t.Helper()
	f := &flipServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if f.unhealthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *flipServer) setHealthy(ok bool) { f.unhealthy.Store(!ok) }
