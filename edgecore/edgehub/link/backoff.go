package link

import (
	"math/rand/v2"
	"time"
)

// Backoff yields reconnect delays that double from Min to Max, each spread
// by ±25 % so a fleet that lost the cloud together does not redial together.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Next returns the delay before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	b.next *= 2
	if b.next > b.Max {
		b.next = b.Max
	}
	return jitter(d, rand.Float64())
}

// Reset starts again from Min, after a connection that worked.
func (b *Backoff) Reset() { b.next = 0 }

// jitter spreads d over [0.75d, 1.25d) for u in [0,1).
func jitter(d time.Duration, u float64) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*u))
}
