package supervise

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reaper is PID 1's only caller of wait4: it reaps every child, hands the
// status of processes started through it (services, health checks, and
// any command PID 1 runs with Reaper.Start or Reaper.Run) to their waiter,
// and reports orphans that the kernel re-parented to PID 1. A second
// wait4(-1) loop anywhere in PID 1 would steal statuses from it, and an
// exec.Cmd.Wait would fail with ECHILD; PID 1 runs everything through it.
type Reaper struct {
	onOrphan func(pid int, e Exit)

	mu      sync.Mutex
	waiters map[int]chan Exit
	procs   map[int]*os.Process
}

// NewReaper returns a Reaper; onOrphan (may be nil) is told about each
// reaped process nobody waited for.
func NewReaper(onOrphan func(pid int, e Exit)) *Reaper {
	return &Reaper{onOrphan: onOrphan, waiters: map[int]chan Exit{}, procs: map[int]*os.Process{}}
}

// Start implements Starter. The lock is held across fork so a child that
// exits at once cannot be reaped before its waiter is registered.
func (r *Reaper) Start(cmd *exec.Cmd) (int, <-chan Exit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	pid := cmd.Process.Pid
	ch := make(chan Exit, 1)
	r.waiters[pid] = ch
	r.procs[pid] = cmd.Process
	return pid, ch, nil
}

// RunCommand starts cmd through the reaper and waits for it: the
// replacement for cmd.Run in PID 1 (cmd.Stdout and Stderr must be nil or
// *os.File, since exec's copying goroutines are finished by cmd.Wait).
func (r *Reaper) RunCommand(ctx context.Context, cmd *exec.Cmd) (Exit, error) {
	pid, ch, err := r.Start(cmd)
	if err != nil {
		return Exit{}, err
	}
	select {
	case e := <-ch:
		return e, nil
	case <-ctx.Done():
		unix.Kill(pid, unix.SIGKILL) // not yet reaped, so the pid is still its
		<-ch
		return Exit{}, ctx.Err()
	}
}

// Run reaps on every SIGCHLD until ctx ends.
func (r *Reaper) Run(ctx context.Context) error {
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGCHLD)
	defer signal.Stop(sig)
	r.reapAll() // children that ended before Notify
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sig:
			r.reapAll()
		}
	}
}

func (r *Reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.deliver(pid, exitOf(syscall.WaitStatus(ws)))
	}
}

func (r *Reaper) deliver(pid int, e Exit) {
	r.mu.Lock()
	ch, ok := r.waiters[pid]
	p := r.procs[pid]
	delete(r.waiters, pid)
	delete(r.procs, pid)
	r.mu.Unlock()
	if !ok {
		if r.onOrphan != nil {
			r.onOrphan(pid, e)
		}
		return
	}
	// The process is gone; release the handle (a pidfd since Go 1.23)
	// that would otherwise leak one descriptor per start for years.
	p.Release()
	ch <- e
}
