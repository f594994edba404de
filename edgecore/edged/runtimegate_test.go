package edged

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRuntimeGate: waiters are held until containerd answers, one probe
// loop asks for all of them, and each is released by the same answer; a
// waiter that gives up leaves the loop running for the others.
func TestRuntimeGate(t *testing.T) {
	tests := []struct {
		name     string
		failures int // probes that fail before containerd answers
		waiters  int
	}{
		{"answers at once", 0, 1},
		{"absent at start, answers later", 5, 1},
		{"many waiters, one loop", 5, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes, ups atomic.Int32
			g := newRuntimeGate(func(context.Context) error {
				if int(probes.Add(1)) <= tt.failures {
					return errors.New("no containerd socket")
				}
				return nil
			}, func() { ups.Add(1) })
			g.min, g.max = time.Millisecond, 4*time.Millisecond

			ctx := t.Context()
			var wg sync.WaitGroup
			var released atomic.Int32
			for range tt.waiters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if g.wait(ctx, ctx) {
						released.Add(1)
					}
				}()
			}
			wg.Wait()
			if int(released.Load()) != tt.waiters {
				t.Fatalf("%d of %d waiters released", released.Load(), tt.waiters)
			}
			if p := int(probes.Load()); p < tt.failures+1 || (tt.waiters == 1 && p != tt.failures+1) {
				t.Fatalf("%d probes for %d failures", p, tt.failures)
			}
			if ups.Load() < 1 {
				t.Fatal("onUp not called")
			}
		})
	}
}

// TestRuntimeGateWaiterGivesUp: a waiter whose context ends leaves
// with false; containerd answering later still releases the others.
func TestRuntimeGateWaiterGivesUp(t *testing.T) {
	var up atomic.Bool
	g := newRuntimeGate(func(context.Context) error {
		if !up.Load() {
			return errors.New("containerd does not answer")
		}
		return nil
	}, nil)
	g.min, g.max = time.Millisecond, 2*time.Millisecond

	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if g.wait(short, t.Context()) {
		t.Fatal("wait returned true while containerd does not answer")
	}
	done := make(chan bool, 1)
	go func() { done <- g.wait(t.Context(), t.Context()) }()
	up.Store(true)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("wait returned false once containerd answers")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not released once containerd answers")
	}
}
