// Package core registers edgecore's modules, starts them on a shared bus,
// restarts them by policy and shuts them down on a signal, as KubeEdge's
// beehive core does, with a bounded wait per module.
package core

import (
	"context"
	"time"
)

// Module is one part of edgecore running on the bus.
type Module interface {
	// Name is the module's bus address (e.g. "metamanager", "websocket").
	Name() string
	// Group is the bus group the module joins (e.g. "meta", "hub").
	Group() string
	// Enable reports whether the module runs; disabled modules are
	// registered for the record but never started.
	Enable() bool
	// Start is the module's main loop. It returns when ctx ends (nil)
	// or when the module fails (an error).
	Start(ctx context.Context) error
	// RestartPolicy says whether the module is restarted after Start
	// returns; nil means never.
	RestartPolicy() *RestartPolicy
}

// DisabledReasoner is implemented by modules that can say why they are
// disabled; the reason is logged at registration.
type DisabledReasoner interface {
	DisabledReason() string
}

// RestartType selects when a module is restarted.
type RestartType string

const (
	// RestartAlways restarts the module whenever Start returns.
	RestartAlways RestartType = "Always"
	// RestartOnFailure restarts the module when Start returns an error or
	// panics.
	RestartOnFailure RestartType = "OnFailure"
)

// RestartPolicy is KubeEdge v1.22's ModuleRestartPolicy: restarts wait
// Interval, growing by GrowthRate each time, up to MaxInterval.
type RestartPolicy struct {
	Type RestartType
	// Retries limits restarts; 0 means no limit.
	Retries int
	// Interval is the first wait (default 1 s).
	Interval time.Duration
	// GrowthRate multiplies the wait after each restart (default 2).
	GrowthRate float64
	// MaxInterval caps the wait (default 30 s).
	MaxInterval time.Duration
}

// Restart defaults, as KubeEdge v1.22.
const (
	DefaultRestartInterval    = time.Second
	DefaultRestartGrowthRate  = 2.0
	DefaultRestartMaxInterval = 30 * time.Second
)

// Backoff returns the wait before restart number attempt (0-based).
func (p RestartPolicy) Backoff(attempt int) time.Duration {
	d := p.Interval
	if d <= 0 {
		d = DefaultRestartInterval
	}
	rate := p.GrowthRate
	if rate < 1 {
		rate = DefaultRestartGrowthRate
	}
	limit := p.MaxInterval
	if limit <= 0 {
		limit = DefaultRestartMaxInterval
	}
	for i := 0; i < attempt && d < limit; i++ {
		d = time.Duration(float64(d) * rate)
	}
	return min(d, limit)
}

// shouldRestart reports whether a module that returned err is restarted
// after restarts previous restarts.
func (p *RestartPolicy) shouldRestart(err error, restarts int) bool {
	if p == nil {
		return false
	}
	if p.Retries > 0 && restarts >= p.Retries {
		return false
	}
	switch p.Type {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return err != nil
	default:
		return false
	}
}
