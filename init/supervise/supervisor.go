// Package supervise runs the appliance's services as a small dependency
// graph: each starts once everything it depends on is healthy, is health
// checked, restarted with exponential backoff when it ends, fails its
// checks or is not healthy by its start deadline, and stopped in
// reverse dependency order (SIGTERM to its process group, SIGKILL after
// its grace period). Output of each service goes to an in-memory ring, a
// size-capped rotated file (<LogDir>/<name>.log, .1, .2 …) and, one
// prefixed line at a time, to the console.
//
// Services come from init/config, so adding containerd or edgecore is a
// config change, not a supervisor change.
//
// How PID 1 uses it, after /var is mounted and the network and clock are
// up:
//
//	reaper := supervise.NewReaper(func(pid int, e supervise.Exit) { … })
//	go reaper.Run(ctx)                       // the one wait4(-1) in PID 1
//	sup, err := supervise.New(cfg.Services, supervise.Options{
//		LogDir:  "/var/log",
//		Console: os.Stdout,                  // the console
//		Starter: reaper,
//		OnEvent: func(e supervise.Event) { fmt.Println(e) },
//	})
//	sup.Start(ctx)
//	…                                        // power event:
//	err = sup.Stop(stopCtx)                  // reverse order, grace, SIGKILL
//	// then sync, unmount /var, reboot(2)
//
// sup.Status() and sup.Logs(name) serve a later status path.
package supervise

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/config"
)

// Options are the supervisor's surroundings; the zero value works (no log
// files, no console, real clock, DirectStarter, DefaultBackoff).
type Options struct {
	// LogDir holds <name>.log per service; empty means no log files.
	LogDir string
	// Console receives each output line as "<name>: line".
	Console io.Writer
	// OnEvent is called for every event, synchronously: keep it short.
	OnEvent func(Event)
	Clock   Clock
	Starter Starter
	// Backoff zero means DefaultBackoff().
	Backoff Backoff
}

// Supervisor runs a fixed set of services.
type Supervisor struct {
	opts     Options
	clock    Clock
	starter  Starter
	backoff  Backoff
	services []*service // in start order
	byName   map[string]*service
	console  *consoleQueue

	startOnce    sync.Once
	started      bool
	shutdown     chan struct{}
	shutdownOnce sync.Once
	stopOnce     sync.Once
	stopErr      error
	pumps        sync.WaitGroup
}

// New checks the graph (unknown dependencies, cycles) and prepares the
// services; nothing runs until Start. specs should come from a validated
// config (defaults applied).
func New(specs []config.Service, opts Options) (*Supervisor, error) {
	order, err := config.StartOrder(specs)
	if err != nil {
		return nil, fmt.Errorf("supervise: %w", err)
	}
	s := &Supervisor{
		opts: opts, clock: opts.Clock, starter: opts.Starter, backoff: opts.Backoff,
		byName: map[string]*service{}, shutdown: make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.starter == nil {
		s.starter = DirectStarter{}
	}
	if s.backoff == (Backoff{}) {
		s.backoff = DefaultBackoff()
	}
	for _, i := range order {
		spec := specs[i]
		if _, dup := s.byName[spec.Name]; dup {
			return nil, fmt.Errorf("supervise: service %q defined twice", spec.Name)
		}
		svc := &service{
			spec: spec, sup: s, check: newChecker(spec.Health, s.starter), state: StateIdle,
			healthy: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		}
		for _, d := range spec.DependsOn {
			dep, ok := s.byName[d]
			if !ok {
				return nil, fmt.Errorf("supervise: service %q depends on unknown service %q", spec.Name, d)
			}
			svc.deps = append(svc.deps, dep)
			dep.dependents = append(dep.dependents, svc)
		}
		s.byName[spec.Name] = svc
		s.services = append(s.services, svc)
	}
	return s, nil
}

// Start opens the outputs and starts every service's life in the
// background. It does not wait for anything to be healthy. When ctx ends,
// the supervisor stops everything as Stop does. After Stop it does nothing.
func (s *Supervisor) Start(ctx context.Context) {
	s.startOnce.Do(func() {
		select {
		case <-s.shutdown:
			return
		default:
		}
		s.started = true
		if s.opts.Console != nil {
			s.console = newConsoleQueue(s.opts.Console)
		}
		for _, svc := range s.services {
			svc.out = s.newOutput(svc.spec)
		}
		runCtx := context.WithoutCancel(ctx) // ordering is Stop's job
		for _, svc := range s.services {
			go svc.run(runCtx)
		}
		go func() {
			select {
			case <-ctx.Done():
				s.Stop(context.Background())
			case <-s.shutdown:
			}
		}()
	})
}

func (s *Supervisor) newOutput(spec config.Service) *output {
	o := &output{name: spec.Name, ring: NewRing(spec.Log.RingBytes)}
	if s.console != nil {
		o.console = newLinePrefixer(spec.Name, s.console)
	}
	if s.opts.LogDir != "" {
		f, err := OpenRotating(filepath.Join(s.opts.LogDir, spec.Name+".log"), spec.Log.MaxBytes, spec.Log.Keep)
		if err != nil {
			klog.Errorf("service %s: no log file, output kept in memory and on the console: %v", spec.Name, err)
		} else {
			o.file = f
		}
	}
	return o
}

// Stop stops every service, each only after all that depend on it have
// stopped; independent ones stop in parallel. It returns when all are down
// or ctx ends (then naming those still running). Calling it again returns
// the first result.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.shutdownOnce.Do(func() { close(s.shutdown) })
	s.stopOnce.Do(func() { s.stopErr = s.stopAll(ctx) })
	return s.stopErr
}

func (s *Supervisor) stopAll(ctx context.Context) error {
	if !s.started {
		return nil
	}
	var wg sync.WaitGroup
	for _, svc := range s.services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, d := range svc.dependents {
				select {
				case <-d.done:
				case <-ctx.Done():
					return
				}
			}
			close(svc.stop)
			select {
			case <-svc.done:
			case <-ctx.Done():
			}
		}()
	}
	wg.Wait()
	var running []string
	for _, svc := range s.services {
		select {
		case <-svc.done:
		default:
			running = append(running, svc.spec.Name)
		}
	}
	if len(running) > 0 {
		return fmt.Errorf("supervise: stop: %w; still running: %s", ctx.Err(), strings.Join(running, ", "))
	}
	s.finishOutputs(ctx)
	return nil
}

// finishOutputs waits for the output pumps to drain (every process group
// is dead by now, so their pipes close) and closes files and console.
func (s *Supervisor) finishOutputs(ctx context.Context) {
	drained := make(chan struct{})
	go func() { s.pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		klog.Warningf("supervise: output of a stopped service still open (a process left its group)")
	}
	for _, svc := range s.services {
		svc.out.close()
	}
	if s.console != nil {
		s.console.close(ctx)
	}
}

// Status returns a snapshot of every service, in start order.
func (s *Supervisor) Status() []Status {
	now := s.clock.Now()
	out := make([]Status, 0, len(s.services))
	for _, svc := range s.services {
		out = append(out, svc.status(now))
	}
	return out
}

// Logs returns the recent output of a service kept in memory.
func (s *Supervisor) Logs(name string) ([]byte, bool) {
	svc, ok := s.byName[name]
	if !ok || svc.out == nil {
		return nil, false
	}
	return svc.out.ring.Bytes(), true
}

func (s *Supervisor) emit(e Event) {
	e.Time = s.clock.Now()
	klog.V(2).InfoS("service event", "event", e.String())
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}
