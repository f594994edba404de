package prober

import "time"

// Option adjusts a Worker.
type Option func(*Worker)

// WithGate holds the Worker's probes until gate is closed: the caller closes
// it when the container's startup probe succeeds (see the package example).
// While the gate is shut the Worker keeps its initial result. Once the gate
// opens a readiness Worker probes at once, because the kubelet asks for a
// readiness run as soon as a started container is not yet ready; a liveness
// Worker waits for its next period.
func WithGate(gate <-chan struct{}) Option {
	return func(w *Worker) { w.gate = gate }
}

// WithObserver calls observe after every probe attempt with its raw result
// and message (exec output, HTTP body, or the reason for Unknown), before the
// thresholds are applied: the hook for "probe failed" events and logs, which
// the kubelet emits per attempt. It runs on the Worker's goroutine.
func WithObserver(observe func(Result, string)) Option {
	return func(w *Worker) { w.observe = observe }
}

// WithStartJitter delays the first probe by a random part of one period. The
// kubelet does this for workers it starts within one period of its own start,
// so that after a restart the probes of all pods do not fire together; edged
// should do the same for the containers it finds already running.
func WithStartJitter() Option {
	return func(w *Worker) { w.jitter = true }
}

// withTimeUnit makes the Worker read the probe's *Seconds fields
// (initialDelaySeconds, periodSeconds, timeoutSeconds) in units of unit
// instead of seconds, so tests can run a schedule in milliseconds.
func withTimeUnit(unit time.Duration) Option {
	return func(w *Worker) { w.unit = unit }
}
