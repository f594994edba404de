package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/bus"
)

// DefaultShutdownTimeout bounds the wait for each module to stop.
const DefaultShutdownTimeout = 10 * time.Second

// ShutdownSignals end Run (KubeEdge's GracefulShutdown set, less the
// fault signals ILL/TRAP/ABRT which the Go runtime handles itself).
var ShutdownSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// ErrModulesStuck is returned by Shutdown when a module did not stop in time.
var ErrModulesStuck = errors.New("modules did not stop in time")

// Core holds the registered modules and the bus they share.
type Core struct {
	bus             *bus.Bus
	shutdownTimeout time.Duration

	mu       sync.Mutex
	modules  []Module // enabled, in registration order
	disabled []Module
	running  []*runner // in start order
}

// Option configures a Core.
type Option func(*Core)

// WithShutdownTimeout sets the bounded wait per module at shutdown.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *Core) {
		if d > 0 {
			c.shutdownTimeout = d
		}
	}
}

// WithBus uses b instead of a new bus.
func WithBus(b *bus.Bus) Option { return func(c *Core) { c.bus = b } }

// New returns a Core with an empty registry.
func New(opts ...Option) *Core {
	c := &Core{shutdownTimeout: DefaultShutdownTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.bus == nil {
		c.bus = bus.New()
	}
	return c
}

// Bus returns the bus modules talk on.
func (c *Core) Bus() *bus.Bus { return c.bus }

// Register records m. Enabled modules will be started; disabled ones are
// logged with their reason and kept for Disabled.
func (c *Core) Register(m Module) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Enable() {
		c.modules = append(c.modules, m)
		klog.Infof("module %s registered (group %s)", m.Name(), m.Group())
		return
	}
	c.disabled = append(c.disabled, m)
	if r, ok := m.(DisabledReasoner); ok {
		klog.Infof("module %s: %s", m.Name(), r.DisabledReason())
	} else {
		klog.Infof("module %s: disabled", m.Name())
	}
}

// Enabled returns the names of the enabled modules in registration order.
func (c *Core) Enabled() []string { return names(c.modules) }

// Disabled returns the names of the disabled modules.
func (c *Core) Disabled() []string { return names(c.disabled) }

func names(ms []Module) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Name())
	}
	return out
}

// StartModules adds every enabled module to the bus (all of them before any
// starts, so no early message finds its destination missing) and starts
// each in its own goroutine.
func (c *Core) StartModules(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.running) > 0 {
		return errors.New("modules already started")
	}
	for _, m := range c.modules {
		c.bus.AddModule(m.Name())
		if err := c.bus.AddModuleGroup(m.Name(), m.Group()); err != nil {
			return fmt.Errorf("module %s: %w", m.Name(), err)
		}
	}
	for _, m := range c.modules {
		r := newRunner(ctx, m)
		c.running = append(c.running, r)
		go r.run()
		klog.Infof("module %s started", m.Name())
	}
	return nil
}

// Shutdown stops the modules in reverse start order, waiting at most the
// shutdown timeout for each, then closes the bus. It returns
// ErrModulesStuck naming every module that did not stop.
func (c *Core) Shutdown() error {
	c.mu.Lock()
	running := c.running
	c.mu.Unlock()
	var stuck []string
	for i := len(running) - 1; i >= 0; i-- {
		r := running[i]
		r.cancel()
		select {
		case <-r.done:
			klog.Infof("module %s stopped", r.m.Name())
		case <-time.After(c.shutdownTimeout):
			klog.Errorf("module %s did not stop within %v after shutdown was requested; abandoning it", r.m.Name(), c.shutdownTimeout)
			stuck = append(stuck, r.m.Name())
		}
	}
	c.bus.Close()
	if len(stuck) > 0 {
		return fmt.Errorf("%w: %s", ErrModulesStuck, strings.Join(stuck, ", "))
	}
	return nil
}

// GracefulShutdown waits for one of ShutdownSignals or for ctx to end, then
// calls Shutdown.
func (c *Core) GracefulShutdown(ctx context.Context) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, ShutdownSignals...)
	defer signal.Stop(sigs)
	return c.waitAndShutdown(ctx, sigs)
}

func (c *Core) waitAndShutdown(ctx context.Context, sigs <-chan os.Signal) error {
	select {
	case s := <-sigs:
		klog.Infof("received %v, shutting down", s)
	case <-ctx.Done():
		klog.Infof("shutting down: %v", context.Cause(ctx))
	}
	return c.Shutdown()
}

// Run starts every enabled module and returns after a shutdown signal (or
// ctx ending) once all modules stopped, or with ErrModulesStuck.
func (c *Core) Run(ctx context.Context) error {
	// Listen before starting so a signal sent as soon as a module is up
	// is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, ShutdownSignals...)
	defer signal.Stop(sigs)
	if err := c.StartModules(ctx); err != nil {
		return err
	}
	return c.waitAndShutdown(ctx, sigs)
}

// runner supervises one module: it runs Start, recovers panics, and
// restarts by the module's policy until its context ends.
type runner struct {
	m      Module
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	state ModuleState
}

func newRunner(parent context.Context, m Module) *runner {
	ctx, cancel := context.WithCancel(parent)
	return &runner{m: m, ctx: ctx, cancel: cancel, done: make(chan struct{}), state: ModulePending}
}

func (r *runner) run() {
	defer close(r.done)
	policy := r.m.RestartPolicy()
	for restarts := 0; ; restarts++ {
		r.set(ModuleRunning)
		err := r.startOnce()
		if r.ctx.Err() != nil {
			r.set(ModuleStopped)
			return
		}
		if !policy.shouldRestart(err, restarts) {
			if err != nil {
				r.set(ModuleFailed)
				klog.Errorf("module %s failed and will not be restarted: %v", r.m.Name(), err)
			} else {
				r.set(ModuleExited)
				klog.Infof("module %s exited", r.m.Name())
			}
			return
		}
		r.set(ModuleRestarting)
		wait := policy.Backoff(restarts)
		klog.Warningf("module %s exited (%v); restart %d in %v", r.m.Name(), err, restarts+1, wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			r.set(ModuleStopped)
			return
		}
	}
}

// startOnce runs Start, turning a panic into an error so a buggy module
// does not take edgecore down and its restart policy applies.
func (r *runner) startOnce() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return r.m.Start(r.ctx)
}
