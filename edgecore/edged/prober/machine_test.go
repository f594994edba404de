package prober

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
)

const (
	S = Success
	F = Failure
)

func TestMachineTransitions(t *testing.T) {
	tests := []struct {
		name      string
		kind      Kind
		success   int32
		failure   int32
		raw       []Result
		initial   Result
		changes   []Result
		doneAfter int // 1-based index of the raw result that ends probing; 0: never
	}{
		{
			name: "readiness becomes ready on the first success", kind: Readiness,
			raw: []Result{S, S}, initial: F, changes: []Result{S},
		},
		{
			name: "readiness stays unready through failures", kind: Readiness,
			raw: []Result{F, F, F, F}, initial: F, changes: nil,
		},
		{
			name: "readiness drops after three failures in a row", kind: Readiness,
			raw: []Result{S, F, F, S, F, F, F}, initial: F, changes: []Result{S, F},
		},
		{
			name: "readiness needs successThreshold successes in a row", kind: Readiness, success: 3,
			raw: []Result{S, S, F, S, S, S}, initial: F, changes: []Result{S},
		},
		{
			name: "readiness flaps and keeps probing", kind: Readiness, failure: 1,
			raw: []Result{S, F, S, F}, initial: F, changes: []Result{S, F, S, F},
		},
		{
			name: "liveness starts alive and ignores successes", kind: Liveness,
			raw: []Result{S, S, S}, initial: S, changes: nil,
		},
		{
			name: "liveness fails after failureThreshold and stops", kind: Liveness,
			raw: []Result{F, F, S, F, F, F, S}, initial: S, changes: []Result{F}, doneAfter: 6,
		},
		{
			name: "liveness failureThreshold one", kind: Liveness, failure: 1,
			raw: []Result{S, F}, initial: S, changes: []Result{F}, doneAfter: 2,
		},
		{
			name: "startup starts unknown and succeeds once", kind: Startup,
			raw: []Result{F, F, S}, initial: Unknown, changes: []Result{S}, doneAfter: 3,
		},
		{
			name: "startup gives up after failureThreshold", kind: Startup, failure: 5,
			raw: []Result{F, F, F, F, F}, initial: Unknown, changes: []Result{F}, doneAfter: 5,
		},
		{
			name: "startup below threshold is still unknown", kind: Startup,
			raw: []Result{F, F}, initial: Unknown, changes: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(tc.kind, &v1.Probe{SuccessThreshold: tc.success, FailureThreshold: tc.failure})
			if m.current != tc.initial {
				t.Fatalf("initial result = %v, want %v", m.current, tc.initial)
			}
			var changes []Result
			doneAfter := 0
			for i, r := range tc.raw {
				changed, done := m.observe(r)
				if changed {
					changes = append(changes, r)
				}
				if done {
					doneAfter = i + 1
					break
				}
			}
			if !slices.Equal(changes, tc.changes) {
				t.Errorf("changes = %v, want %v", changes, tc.changes)
			}
			if doneAfter != tc.doneAfter {
				t.Errorf("done after %d results, want %d", doneAfter, tc.doneAfter)
			}
		})
	}
}

func TestNewMachineDefaults(t *testing.T) {
	m := newMachine(Readiness, &v1.Probe{})
	if m.successThreshold != 1 || m.failureThreshold != 3 {
		t.Errorf("thresholds = %d/%d, want 1/3", m.successThreshold, m.failureThreshold)
	}
	m = newMachine(Readiness, &v1.Probe{SuccessThreshold: 2, FailureThreshold: 7})
	if m.successThreshold != 2 || m.failureThreshold != 7 {
		t.Errorf("thresholds = %d/%d, want 2/7", m.successThreshold, m.failureThreshold)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{Liveness.String(), "Liveness"},
		{Readiness.String(), "Readiness"},
		{Startup.String(), "Startup"},
		{Kind(9).String(), "Kind(9)"},
		{Success.String(), "Success"},
		{Failure.String(), "Failure"},
		{Unknown.String(), "Unknown"},
		{Result(9).String(), "Result(9)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
