package supervise

import (
	"fmt"
	"time"
)

// EventKind says what happened to a service.
type EventKind int

const (
	EventWaiting      EventKind = iota // waiting for dependencies
	EventStarted                       // process started (PID set)
	EventStartFailed                   // could not start (Err set)
	EventHealthy                       // first passing health check of a run
	EventUnhealthy                     // failure threshold reached; restarting
	EventExited                        // process ended (Exit, Restart set)
	EventStopped                       // stopped on request (Exit set)
	EventStartTimeout                  // not healthy by its start deadline; restarting (Err set)
)

// Event is one thing PID 1 prints on the console, one line each.
type Event struct {
	Time    time.Time
	Service string
	Kind    EventKind
	PID     int
	Exit    Exit
	// Restart is the delay before the next start; negative means no restart.
	Restart time.Duration
	// Err explains EventStartFailed, EventUnhealthy and
	// EventStartTimeout; Waiting lists deps.
	Err  error
	Deps []string
}

// String is the console line, e.g. "service edgecore started pid 214" or
// "service edgecore exited status 1, restart in 4s".
func (e Event) String() string {
	s := "service " + e.Service
	switch e.Kind {
	case EventWaiting:
		return fmt.Sprintf("%s waiting for %v", s, e.Deps)
	case EventStarted:
		return fmt.Sprintf("%s started pid %d", s, e.PID)
	case EventStartFailed:
		return fmt.Sprintf("%s failed to start: %v%s", s, e.Err, restartText(e.Restart))
	case EventHealthy:
		return fmt.Sprintf("%s healthy (pid %d)", s, e.PID)
	case EventUnhealthy:
		return fmt.Sprintf("%s unhealthy, restarting: %v", s, e.Err)
	case EventExited:
		return fmt.Sprintf("%s exited %s%s", s, e.Exit, restartText(e.Restart))
	case EventStopped:
		return fmt.Sprintf("%s stopped (%s)", s, e.Exit)
	case EventStartTimeout:
		return fmt.Sprintf("%s did not become healthy, restarting: %v", s, e.Err)
	}
	return s + " unknown event"
}

func restartText(d time.Duration) string {
	if d < 0 {
		return ", not restarted"
	}
	return fmt.Sprintf(", restart in %v", d)
}
