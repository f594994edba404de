package prober

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
)

// maxAttempts bounds the attempts per period: like the kubelet, a Worker
// repeats an attempt that errored (Unknown) at once, up to this many in all.
const maxAttempts = 3

// Worker probes one container instance periodically and reports changes of
// the thresholded result.
//
// It probes right away when Run starts and then every periodSeconds (default
// 10), skipping the probes that fall within initialDelaySeconds of the
// container's start or while its gate is shut. successThreshold (default 1)
// consecutive successes or failureThreshold (default 3) consecutive failures
// set the result; an Unknown attempt is retried twice at once and then
// discarded, leaving the counts as they were. The result starts as Failure for
// readiness, Success for liveness and Unknown for startup.
//
// A liveness Worker stops after its Failure (the container is to be
// restarted); a startup Worker stops after its first thresholded result, so it
// reports Success or Failure exactly once. A readiness Worker runs until
// stopped.
type Worker struct {
	kind     Kind
	probe    *v1.Probe
	target   Target
	exec     Execer
	onChange func(Result)

	gate    <-chan struct{}
	observe func(Result, string)
	jitter  bool
	unit    time.Duration

	machine machine
	result  atomic.Int32

	stopOnce sync.Once
	stopped  chan struct{}
}

// NewWorker returns a Worker for probe p of kind on target t. onChange, which
// may be nil, is called on the Worker's goroutine each time the thresholded
// result changes; it should return quickly, since probing waits for it. A
// Worker whose p is nil never probes.
func NewWorker(kind Kind, p *v1.Probe, t Target, ex Execer, onChange func(Result), opts ...Option) *Worker {
	w := &Worker{
		kind:     kind,
		probe:    p,
		target:   t,
		exec:     ex,
		onChange: onChange,
		unit:     time.Second,
		stopped:  make(chan struct{}),
	}
	for _, opt := range opts {
		opt(w)
	}
	if p != nil {
		w.machine = newMachine(kind, p)
	} else {
		w.machine = machine{kind: kind, current: initialResult(kind)}
	}
	w.result.Store(int32(w.machine.current))
	return w
}

// Kind returns the Worker's kind.
func (w *Worker) Kind() Kind { return w.kind }

// Result returns the current thresholded result. It is safe to call from any
// goroutine.
func (w *Worker) Result() Result { return Result(w.result.Load()) }

// Stop ends Run, interrupting a probe in flight; that probe does not count.
// It may be called more than once, and before Run.
func (w *Worker) Stop() {
	w.stopOnce.Do(func() { close(w.stopped) })
}

// Run probes until ctx ends, Stop is called or the probe has nothing left to
// decide (see Worker). It must be called at most once.
func (w *Worker) Run(ctx context.Context) {
	if w.probe == nil || w.isStopped() {
		return
	}
	ctx, cancel := w.stoppable(ctx)
	defer cancel()

	startedAt := w.target.StartedAt
	if startedAt.IsZero() {
		startedAt = time.Now()
	}
	period := time.Duration(orDefault(w.probe.PeriodSeconds, defaultPeriodSeconds)) * w.unit
	if w.jitter && !sleep(ctx, time.Duration(rand.Int64N(int64(period)))) {
		return
	}
	ticker := time.NewTicker(period)
	defer ticker.Stop()

	for {
		keepGoing, gated := w.step(ctx, startedAt)
		if !keepGoing {
			return
		}
		// Only a readiness probe held by the gate is woken by the gate
		// opening; see WithGate.
		var wake <-chan struct{}
		if gated && w.kind == Readiness {
			wake = w.gate
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-wake:
		}
	}
}

// stoppable derives a context that Stop also ends, so that Stop interrupts a
// probe in flight.
func (w *Worker) stoppable(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-w.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// step makes the probe due at this tick, if any. It reports whether the
// Worker should go on and whether the gate held the probe back.
func (w *Worker) step(ctx context.Context, startedAt time.Time) (keepGoing, gated bool) {
	if ctx.Err() != nil {
		return false, false
	}
	if !w.gateOpen() {
		return true, true
	}
	initialDelay := time.Duration(w.probe.InitialDelaySeconds) * w.unit
	if time.Since(startedAt) < initialDelay {
		return true, false
	}
	result := w.attempt(ctx)
	if ctx.Err() != nil {
		return false, false
	}
	if result == Unknown {
		return true, false
	}
	changed, done := w.machine.observe(result)
	if changed {
		w.result.Store(int32(result))
		if w.onChange != nil {
			w.onChange(result)
		}
	}
	return !done, false
}

// attempt runs the probe, repeating it at once while it errors, as the
// kubelet does, and reports the final attempt to the observer.
func (w *Worker) attempt(ctx context.Context) Result {
	timeout := probeTimeout(w.probe, w.unit)
	var result Result
	var msg string
	for range maxAttempts {
		result, msg = probeOnce(ctx, w.probe, w.target, w.exec, timeout)
		if result != Unknown || ctx.Err() != nil {
			break
		}
	}
	if w.observe != nil && ctx.Err() == nil {
		w.observe(result, msg)
	}
	return result
}

func (w *Worker) isStopped() bool {
	select {
	case <-w.stopped:
		return true
	default:
		return false
	}
}

func (w *Worker) gateOpen() bool {
	if w.gate == nil {
		return true
	}
	select {
	case <-w.gate:
		return true
	default:
		return false
	}
}

// sleep waits for d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
