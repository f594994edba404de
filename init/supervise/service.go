package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/init/config"
)

// State is where a service is in its life.
type State string

const (
	StateIdle     State = "idle"     // supervisor not started
	StateWaiting  State = "waiting"  // for dependencies to be healthy
	StateStarting State = "starting" // process running, not yet healthy
	StateRunning  State = "running"  // process running and healthy
	StateBackoff  State = "backoff"  // exited, waiting to restart
	StateStopping State = "stopping" // SIGTERM sent
	StateStopped  State = "stopped"  // stopped on request
	StateFinished State = "finished" // exited and its policy says no restart
)

// Status is a snapshot of one service for the status path.
type Status struct {
	Name     string
	State    State
	PID      int // 0 when no process runs
	Healthy  bool
	Restarts int
	// LastExit is how the previous run ended ("" before any ended).
	LastExit string
	// Uptime is how long the current process has run (0 when none).
	Uptime time.Duration
}

type service struct {
	spec  config.Service
	sup   *Supervisor
	out   *output
	check checker
	deps  []*service
	// dependents must stop before this service does.
	dependents []*service

	healthy     chan struct{} // closed the first time the service is healthy
	healthyOnce sync.Once
	stop        chan struct{} // closed when it is this service's turn to stop
	done        chan struct{} // closed when run returns

	mu        sync.Mutex
	state     State
	pid       int
	isHealthy bool
	restarts  int
	lastExit  string
	started   time.Time
	// healthySince is when the current run was first healthy (zero
	// until then): only healthy time makes a run count as stable.
	healthySince time.Time
}

func (s *service) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *service) status(now time.Time) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Name: s.spec.Name, State: s.state, PID: s.pid, Healthy: s.isHealthy, Restarts: s.restarts, LastExit: s.lastExit}
	if s.pid != 0 {
		st.Uptime = now.Sub(s.started)
	}
	return st
}

// run is the service's whole life: wait for dependencies, then start,
// watch and restart it until it is stopped or its policy ends it.
func (s *service) run(ctx context.Context) {
	defer close(s.done)
	if !s.waitDeps() {
		s.set(func() { s.state = StateStopped })
		return
	}
	failures := 0
	for {
		exit, upFor, stopped, err := s.runOnce(ctx)
		if stopped {
			s.set(func() { s.state, s.lastExit = StateStopped, exit.String() })
			s.sup.emit(Event{Service: s.spec.Name, Kind: EventStopped, Exit: exit})
			return
		}
		if !s.restartWanted(exit, err) {
			s.set(func() { s.state = StateFinished })
			s.emitEnd(exit, err, -1)
			return
		}
		var delay time.Duration
		failures, delay = s.sup.backoff.Next(failures, upFor)
		s.set(func() { s.state = StateBackoff; s.restarts++ })
		s.emitEnd(exit, err, delay)
		select {
		case <-s.sup.clock.After(delay):
		case <-s.stop:
			s.set(func() { s.state = StateStopped })
			return
		case <-s.sup.shutdown:
			// Shutdown began while this one waits: stay down.
			s.set(func() { s.state = StateStopped })
			return
		}
	}
}

func (s *service) emitEnd(exit Exit, startErr error, delay time.Duration) {
	if startErr != nil {
		s.sup.emit(Event{Service: s.spec.Name, Kind: EventStartFailed, Err: startErr, Restart: delay})
		return
	}
	s.sup.emit(Event{Service: s.spec.Name, Kind: EventExited, Exit: exit, Restart: delay})
}

func (s *service) restartWanted(exit Exit, startErr error) bool {
	select {
	case <-s.sup.shutdown:
		return false
	default:
	}
	switch s.spec.Restart {
	case config.RestartNever:
		return false
	case config.RestartOnFailure:
		return startErr != nil || !exit.Success()
	}
	return true
}

// waitDeps blocks until every dependency was healthy once; false when the
// service was told to stop first.
func (s *service) waitDeps() bool {
	var pending []string
	for _, d := range s.deps {
		select {
		case <-d.healthy:
		default:
			pending = append(pending, d.spec.Name)
		}
	}
	if len(pending) == 0 {
		return true
	}
	s.set(func() { s.state = StateWaiting })
	s.sup.emit(Event{Service: s.spec.Name, Kind: EventWaiting, Deps: pending})
	for _, d := range s.deps {
		select {
		case <-d.healthy:
		case <-s.stop:
			return false
		case <-s.sup.shutdown:
			return false
		}
	}
	return true
}

// runOnce starts the process and waits for it to end, for its turn to
// stop, or for its health to fail. upFor is how long the run was healthy.
func (s *service) runOnce(ctx context.Context) (exit Exit, upFor time.Duration, stopped bool, err error) {
	pid, exitCh, err := s.start()
	if err != nil {
		return Exit{}, 0, false, err
	}
	start := s.sup.clock.Now()
	s.set(func() {
		s.state, s.pid, s.started, s.isHealthy, s.healthySince = StateStarting, pid, start, false, time.Time{}
		if s.check == nil {
			s.healthySince = start // no check: up once started
		}
	})
	defer s.set(func() { s.pid, s.isHealthy = 0, false })
	s.sup.emit(Event{Service: s.spec.Name, Kind: EventStarted, PID: pid})

	runCtx, cancel := context.WithCancel(ctx)
	failed := make(chan Event, 1)
	watched := make(chan struct{})
	go func() { defer close(watched); s.watchHealth(runCtx, pid, failed) }()
	// No check outlives its run: one left behind per restart would add up.
	defer func() { cancel(); <-watched }()

	select {
	case exit = <-exitCh:
		// Take down whatever the service left behind in its group.
		killGroup(pid, unix.SIGKILL)
	case <-s.stop:
		exit, stopped = s.terminate(pid, exitCh), true
	case e := <-failed:
		s.sup.emit(e)
		exit = s.terminate(pid, exitCh)
	}
	now := s.sup.clock.Now()
	s.set(func() {
		s.lastExit = exit.String()
		if !s.healthySince.IsZero() {
			upFor = now.Sub(s.healthySince)
		}
	})
	return exit, upFor, stopped, nil
}

func (s *service) start() (int, <-chan Exit, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("output pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:   s.spec.Path,
		Args:   append([]string{s.spec.Path}, s.spec.Args...),
		Env:    s.spec.Env,
		Dir:    "/",
		Stdout: w,
		Stderr: w,
		// Its own process group, so stop reaches what it forks too.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	pid, exitCh, err := s.sup.starter.Start(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return 0, nil, err
	}
	s.sup.pumps.Add(1)
	go func() {
		defer s.sup.pumps.Done()
		s.out.pump(r)
	}()
	return pid, exitCh, nil
}

// terminate sends SIGTERM to the group, SIGKILL after the grace period,
// and returns how the process ended.
func (s *service) terminate(pid int, exitCh <-chan Exit) Exit {
	s.set(func() { s.state = StateStopping })
	killGroup(pid, unix.SIGTERM)
	var exit Exit
	select {
	case exit = <-exitCh:
	case <-s.sup.clock.After(s.spec.GracePeriod.D()):
		killGroup(pid, unix.SIGKILL)
		exit = <-exitCh
	}
	killGroup(pid, unix.SIGKILL)
	return exit
}

func killGroup(pgid int, sig unix.Signal) {
	// ESRCH: the group is already gone, which is the goal.
	if err := unix.Kill(-pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		klog.Warningf("kill process group %d with %v: %v", pgid, sig, err)
	}
}

// watchHealth checks the service every start interval until the first
// success, which marks it healthy (releasing its dependents), and every
// interval after that; FailureThreshold failures in a row after the
// first success are reported on failed. A service not healthy within
// StartTimeout of its start is reported too: left alone it would hold its
// dependents back for ever.
func (s *service) watchHealth(ctx context.Context, pid int, failed chan<- Event) {
	if s.check == nil {
		s.markHealthy(pid, false)
		return
	}
	h := s.spec.Health
	fails, healthy := 0, false
	var lastErr error
	var deadline <-chan time.Time // nil: none
	if h.StartTimeout > 0 {
		deadline = s.sup.clock.After(h.StartTimeout.D())
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			failed <- Event{Service: s.spec.Name, Kind: EventStartTimeout, PID: pid, Err: notHealthyIn(h.StartTimeout.D(), lastErr)}
			return
		case <-s.sup.clock.After(wait):
		}
		cctx, cancel := context.WithTimeout(ctx, h.Timeout.D())
		err := s.check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		lastErr = err
		wait = h.Interval.D()
		if err != nil && !healthy && h.StartInterval > 0 {
			wait = h.StartInterval.D()
		}
		switch {
		case err == nil:
			fails = 0
			if !healthy {
				healthy, deadline = true, nil
				s.markHealthy(pid, true)
			}
		case healthy:
			fails++
			if fails >= h.FailureThreshold {
				s.set(func() { s.isHealthy = false })
				failed <- Event{Service: s.spec.Name, Kind: EventUnhealthy, PID: pid,
					Err: fmt.Errorf("%d health checks failed, last: %w", fails, err)}
				return
			}
		}
	}
}

func (s *service) markHealthy(pid int, announce bool) {
	now := s.sup.clock.Now()
	s.set(func() {
		s.isHealthy = true
		if s.healthySince.IsZero() {
			s.healthySince = now
		}
		if s.state == StateStarting {
			s.state = StateRunning
		}
	})
	if announce {
		s.sup.emit(Event{Service: s.spec.Name, Kind: EventHealthy, PID: pid})
	}
	s.healthyOnce.Do(func() { close(s.healthy) })
}

func notHealthyIn(d time.Duration, last error) error {
	if last == nil {
		return fmt.Errorf("not healthy %v after its start (no check finished)", d)
	}
	return fmt.Errorf("not healthy %v after its start, last check: %w", d, last)
}
