package edged

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// Edgecore starts with containerd, not after it (the link to the cloud
// needs no container runtime), and containerd restarts under it. While
// containerd does not answer, nothing edged knows of containers is
// true: an empty or failed list is not "no containers". So edged asks
// nothing of containerd then; pods and garbage collection wait at the
// gate until containerd answers, and carry on from what it tells.
const (
	runtimeRetryMin = 250 * time.Millisecond
	runtimeRetryMax = 5 * time.Second
)

// runtimeGate holds callers back until containerd answers. One probe
// loop runs at a time, however many wait: it asks with a backoff from
// runtimeRetryMin doubling to runtimeRetryMax, says once that it waits,
// and releases every waiter together.
type runtimeGate struct {
	probe    func(context.Context) error // nil: containerd answers
	onUp     func()                      // after a wait ended with an answer
	min, max time.Duration

	mu      sync.Mutex
	waiting chan struct{} // closed when the running probe loop got an answer; nil: none runs
}

func newRuntimeGate(probe func(context.Context) error, onUp func()) *runtimeGate {
	return &runtimeGate{probe: probe, onUp: onUp, min: runtimeRetryMin, max: runtimeRetryMax}
}

// wait returns true once containerd answers, false when ctx ends first.
// The probe loop runs under loopCtx (the module's), so a waiter leaving
// does not stop it for the others.
func (g *runtimeGate) wait(ctx, loopCtx context.Context) bool {
	g.mu.Lock()
	ch := g.waiting
	if ch == nil {
		ch = make(chan struct{})
		g.waiting = ch
		go g.loop(loopCtx, ch)
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *runtimeGate) loop(ctx context.Context, ch chan struct{}) {
	delay, said := g.min, false
	for {
		err := g.probe(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return // edged stops; the waiters leave with it
		}
		if !said {
			klog.Warningf("edged: waiting for containerd: %v; pods are neither started nor collected until it answers", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, g.max)
	}
	if said {
		klog.Infof("edged: containerd answers; syncing pods with what it runs")
	}
	g.mu.Lock()
	g.waiting = nil
	g.mu.Unlock()
	close(ch)
	if g.onUp != nil {
		g.onUp()
	}
}

// runtimeAnswers asks containerd for its version: nil when it answers.
// A missing socket is a down runtime at once; the client would wait
// for it.
func (m *Module) runtimeAnswers(ctx context.Context) error {
	if socket := strings.TrimPrefix(m.cfg.Runtime.Endpoint, "unix://"); !exists(socket) {
		return fmt.Errorf("container runtime is down: no containerd socket at %s", socket)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := m.rt.Version(ctx); err != nil {
		return fmt.Errorf("container runtime is down: containerd at %s does not answer: %w", m.cfg.Runtime.Endpoint, err)
	}
	return nil
}

// awaitRuntime waits at the gate until containerd answers; false when
// ctx ends first.
func (m *Module) awaitRuntime(ctx context.Context) bool {
	m.mu.Lock()
	loopCtx := m.ctx
	m.mu.Unlock()
	if loopCtx == nil {
		loopCtx = ctx
	}
	return m.gate.wait(ctx, loopCtx)
}
