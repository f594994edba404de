package config

import "time"

// DefaultTrialDeadline bounds a trial boot's wait for its health check:
// long enough for containerd and edgecore to start and edgecore to reach
// its cloud on a slow card and link, short enough that a bad update is
// undone within minutes.
const DefaultTrialDeadline = 5 * time.Minute

// Trial is how init judges a slot booted on trial after an update.
type Trial struct {
	// Deadline is how long the health check (every service healthy, and
	// edgecore connected when it has a cloud) may take before init
	// reboots so the bootloader falls back to the committed slot.
	Deadline Duration `json:"deadline,omitempty"`
}

func (t *Trial) applyDefaults() {
	if t.Deadline == 0 {
		t.Deadline = Duration(DefaultTrialDeadline)
	}
}

func validateTrial(e *errs, t *Trial) {
	if d := t.Deadline.D(); d < 10*time.Second || d > 24*time.Hour {
		e.add("trial.deadline", "%s is outside 10s..24h", t.Deadline)
	}
}
