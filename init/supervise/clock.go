package supervise

import "time"

// Clock is the time source of backoff waits, grace periods, health-check
// intervals and uptimes. Tests pass a fake one to step through backoff
// delays without sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
