package metamanager

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// DefaultFailureLogInterval is how often store write failures are logged
// while they last.
const DefaultFailureLogInterval = time.Minute

// storeFailures counts store writes that failed and logs them: the first at
// once, then a summary at most once per interval, then a line when writes
// succeed again. A full data partition fails every write, and a line per
// status update would bury everything else in the log.
type storeFailures struct {
	interval time.Duration
	now      func() time.Time
	log      func(line string, failure bool)

	total   atomic.Uint64
	failing atomic.Bool // a failure was logged and no write succeeded since

	mu      sync.Mutex
	since   uint64 // failures not in a log line yet
	lastLog time.Time
}

func newStoreFailures(interval time.Duration) *storeFailures {
	if interval <= 0 {
		interval = DefaultFailureLogInterval
	}
	return &storeFailures{interval: interval, now: time.Now, log: logToKlog}
}

func logToKlog(line string, failure bool) {
	if failure {
		klog.ErrorDepth(2, line)
		return
	}
	klog.InfoDepth(2, line)
}

// failed counts a write of what that failed with err; then is what
// metamanager did instead ("sent to the cloud anyway").
func (s *storeFailures) failed(what string, err error, then string) {
	total := s.total.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.since++
	now := s.now()
	switch {
	case !s.failing.Load():
		s.log(fmt.Sprintf("metamanager: cannot store %s: %v; %s. Store failures are counted and logged once every %v until a write succeeds", what, err, then, s.interval), true)
	case now.Sub(s.lastLog) >= s.interval:
		s.log(fmt.Sprintf("metamanager: %d store writes failed in the last %v (%d in total), the last %s: %v; %s", s.since, now.Sub(s.lastLog).Round(time.Second), total, what, err, then), true)
	default:
		return
	}
	s.failing.Store(true)
	s.since, s.lastLog = 0, now
}

// succeeded notes a write that worked, which ends a run of failures.
func (s *storeFailures) succeeded() {
	if !s.failing.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.failing.Load() {
		return
	}
	s.log(fmt.Sprintf("metamanager: store writes succeed again (%d failed since the last report, %d in total)", s.since, s.total.Load()), false)
	s.failing.Store(false)
	s.since = 0
}

// count is the number of failed writes since start.
func (s *storeFailures) count() uint64 { return s.total.Load() }

// What metamanager does when the store cannot keep a message.
const (
	thenSentAnyway = "sent to the cloud anyway"
	thenPassedOn   = "passed on anyway"
	thenNotAcked   = "forwarded, but not acknowledged, so the cloud sends it again"
)

// storeError is a store write that failed; persist counted and logged it.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func isStoreError(err error) bool {
	var se *storeError
	return errors.As(err, &se)
}

// persist runs write, a store write of what, and keeps count of failures;
// then says what metamanager does without it.
func (m *MetaManager) persist(what, then string, write func() error) error {
	if err := write(); err != nil {
		m.failures.failed(what, err, then)
		return &storeError{err: err}
	}
	m.failures.succeeded()
	return nil
}
