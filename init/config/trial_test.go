package config

import (
	"strings"
	"testing"
	"time"
)

// TestTrialDeadline: the default applies, and a deadline out of range is
// refused naming trial.deadline.
func TestTrialDeadline(t *testing.T) {
	c, err := Parse([]byte("hostname: gw\n"))
	if err != nil || c.Trial.Deadline.D() != DefaultTrialDeadline {
		t.Fatalf("default: %v, %v", c, err)
	}
	c, err = Parse([]byte("trial:\n  deadline: 90s\n"))
	if err != nil || c.Trial.Deadline.D() != 90*time.Second {
		t.Fatalf("90s: %v, %v", c, err)
	}
	for _, bad := range []string{"1s", "48h"} {
		_, err := Parse([]byte("trial:\n  deadline: " + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), "trial.deadline") {
			t.Errorf("deadline %s: %v", bad, err)
		}
	}
}
