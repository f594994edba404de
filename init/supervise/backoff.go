package supervise

import "time"

// Backoff is the restart delay policy: Initial after the first failure,
// doubling up to Max; a run that lasted at least Stable counts as healthy,
// so the next failure starts again at Initial.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Stable  time.Duration
}

// DefaultBackoff is 1 s doubling to 60 s, reset after 2 minutes of running.
func DefaultBackoff() Backoff {
	return Backoff{Initial: time.Second, Max: time.Minute, Stable: 2 * time.Minute}
}

// Next returns the failure count and restart delay after a run that lasted
// ranFor, given the consecutive failures before it.
func (b Backoff) Next(failures int, ranFor time.Duration) (int, time.Duration) {
	if ranFor >= b.Stable {
		failures = 0
	}
	failures++
	return failures, b.Delay(failures)
}

// Delay is the wait before restart number failures (1-based).
func (b Backoff) Delay(failures int) time.Duration {
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
