package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/klog/v2"
)

// Log receives a container's output streams; each Copy runs until its
// stream ends.
type Log interface {
	Copy(stream string, r io.Reader) error
	Close() error
}

// processTypeURL is the type containerd's client gives an exec'd
// process's spec (stored as JSON).
const processTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/Process"

// exitStatus is how a process ended, as the daemon's Wait reports it.
type exitStatus struct {
	code uint32
	at   time.Time
	err  error
}

// Start starts the container's process with its output going to log, and
// calls exited (on another goroutine) once it has ended and its exit is
// recorded. A start that fails (bad command, say) records the failure as
// the exit, reason ContainerCannotRun.
func (r *Runtime) Start(ctx context.Context, id string, log Log, exited func(id string)) error {
	ctn, err := r.container(ctx, id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	dio, err := r.newTask(ctx, ctn, log)
	if err != nil {
		r.recordExit(ctx, id, Exit{Code: 128, Reason: "ContainerCannotRun", Message: err.Error(), FinishedAt: time.Now()})
		log.Close()
		return fmt.Errorf("start %s: %w", id, err)
	}
	wait := r.wait(ctx, id, "")
	started := time.Now()
	if _, err := r.tasks.Start(ctx, &tasksapi.StartRequest{ContainerID: id}); err != nil {
		err = errgrpc.ToNative(err)
		dio.Cancel()
		dio.Close()
		r.deleteTask(context.WithoutCancel(ctx), id, true, nil)
		r.recordExit(ctx, id, Exit{Code: 128, Reason: "ContainerCannotRun", Message: err.Error(), StartedAt: started, FinishedAt: time.Now()})
		return fmt.Errorf("start %s: %w", id, err)
	}
	if err := r.setLabels(ctx, id, map[string]string{LabelStarted: started.UTC().Format(time.RFC3339Nano)}); err != nil {
		klog.Warningf("containerd: %s: record start: %v", id, err)
	}
	r.follow(id, dio, wait, started, exited)
	return nil
}

// newTask creates the container's task (its process, not yet started)
// on its snapshot's mounts, with new FIFOs under FIFODir whose output
// goes to log.
func (r *Runtime) newTask(ctx context.Context, ctn *containersapi.Container, log Log) (cio.IO, error) {
	fifos, err := cio.NewFIFOSetInDir(r.s.FIFODir, ctn.GetID(), false)
	if err != nil {
		return nil, err
	}
	dio, err := r.directIO(ctx, fifos, log)
	if err != nil {
		return nil, err
	}
	if err := r.createTask(ctx, ctn, dio.Config()); err != nil {
		dio.Cancel()
		dio.Close()
		return nil, err
	}
	return dio, nil
}

// createTask asks the daemon for the container's task with the given IO.
func (r *Runtime) createTask(ctx context.Context, ctn *containersapi.Container, io cio.Config) error {
	req := &tasksapi.CreateTaskRequest{
		ContainerID: ctn.GetID(),
		Terminal:    io.Terminal,
		Stdin:       io.Stdin,
		Stdout:      io.Stdout,
		Stderr:      io.Stderr,
	}
	if key := ctn.GetSnapshotKey(); key != "" {
		mounts, err := r.snapshots.Mounts(ctx, key)
		if err != nil {
			return fmt.Errorf("root filesystem: %w", err)
		}
		s, err := spec(ctn)
		if err != nil {
			return err
		}
		for _, m := range mounts {
			opts := m.Options
			if s.Linux != nil && s.Linux.MountLabel != "" {
				opts = append(opts, fmt.Sprintf("context=%q", s.Linux.MountLabel))
			}
			req.Rootfs = append(req.Rootfs, &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: opts})
		}
	}
	_, err := r.tasks.Create(ctx, req)
	return errgrpc.ToNative(err)
}

// Attach adopts a running container after an edgecore restart: its
// output goes to log again, and exited is called when it ends.
func (r *Runtime) Attach(ctx context.Context, id string, log Log, exited func(id string)) error {
	ctn, err := r.container(ctx, id)
	if err != nil {
		return fmt.Errorf("attach %s: %w", id, err)
	}
	resp, err := r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id})
	if err != nil {
		return fmt.Errorf("attach %s: no running task found: %w", id, errgrpc.ToNative(err))
	}
	var dio cio.IO
	if p := resp.GetProcess(); p.GetStatus() != tasktypes.Status_UNKNOWN { // an unknown task has no FIFOs
		if dio, err = r.directIO(ctx, existingFIFOs(p.GetStdin(), p.GetStdout(), p.GetStderr(), p.GetTerminal()), log); err != nil {
			return fmt.Errorf("attach %s: %w", id, err)
		}
	}
	started, _ := time.Parse(time.RFC3339Nano, ctn.GetLabels()[LabelStarted])
	r.follow(id, dio, r.wait(ctx, id, ""), started, exited)
	return nil
}

// existingFIFOs are a running task's FIFOs; closing the set removes them
// and their directory.
func existingFIFOs(stdin, stdout, stderr string, terminal bool) *cio.FIFOSet {
	paths := []string{stdin, stdout, stderr}
	return cio.NewFIFOSet(cio.Config{Stdin: stdin, Stdout: stdout, Stderr: stderr, Terminal: terminal}, func() error {
		var firstErr error
		dirs := map[string]bool{}
		for _, p := range paths {
			if st, err := os.Lstat(p); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
				continue
			}
			if err := os.Remove(p); err != nil && firstErr == nil {
				firstErr = err
			}
			dirs[filepath.Dir(p)] = true
		}
		for d := range dirs {
			os.Remove(d) // only once empty
		}
		return firstErr
	})
}

// directIO opens the FIFOs and copies both streams into log, closing it
// once both have ended.
func (r *Runtime) directIO(ctx context.Context, fs *cio.FIFOSet, log Log) (cio.IO, error) {
	fs.Stdin = ""
	dio, err := cio.NewDirectIO(context.WithoutCancel(ctx), fs)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{}, 2)
	for stream, rd := range map[string]io.ReadCloser{"stdout": dio.Stdout, "stderr": dio.Stderr} {
		go func() {
			if err := log.Copy(stream, rd); err != nil {
				klog.V(2).Infof("containerd: %s %s: %v", fs.Stdout, stream, err)
			}
			done <- struct{}{}
		}()
	}
	go func() {
		<-done
		<-done
		log.Close()
	}()
	return dio, nil
}

// wait returns a channel that receives how the task's process (execID
// "") or an exec'd process ended; an error ends the wait as well, but
// for the daemon going away: containerd restarts, the shim runs the
// process on, and an exit recorded then would report a running
// container as dead. The wait is asked again, with a backoff to
// waitRetryMax, until the daemon answers it or ctx ends.
func (r *Runtime) wait(ctx context.Context, id, execID string) <-chan exitStatus {
	ch := make(chan exitStatus, 1)
	go func() {
		delay := waitRetryMin
		for {
			resp, err := r.tasks.Wait(ctx, &tasksapi.WaitRequest{ContainerID: id, ExecID: execID})
			if err == nil {
				ch <- exitStatus{code: resp.GetExitStatus(), at: resp.GetExitedAt().AsTime()}
				return
			}
			err = errgrpc.ToNative(err)
			if !errdefs.IsUnavailable(err) || ctx.Err() != nil {
				ch <- exitStatus{code: 255, err: err}
				return
			}
			select {
			case <-ctx.Done():
				ch <- exitStatus{code: 255, err: ctx.Err()}
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, waitRetryMax)
		}
	}()
	return ch
}

// A wait cut by the daemon going away is asked again after these.
const (
	waitRetryMin = 250 * time.Millisecond
	waitRetryMax = 3 * time.Second
)

// follow watches the task on a goroutine of its own. Until the watcher
// has recorded the exit, Stop waits for it, as the CRI's StopContainer
// waits for the exit to be handled: the status built right after a stop
// must show the container terminated, not running.
func (r *Runtime) follow(id string, dio cio.IO, wait <-chan exitStatus, started time.Time, exited func(string)) {
	rec := make(chan struct{})
	r.recorded.Store(id, rec)
	go func() {
		r.watch(id, dio, wait, started, exited)
		close(rec)
		r.recorded.CompareAndDelete(id, rec)
	}()
}

// awaitRecord waits, for a few seconds at most, until the exit of a
// container this client watches is recorded.
func (r *Runtime) awaitRecord(id string) {
	if rec, ok := r.recorded.Load(id); ok {
		select {
		case <-rec.(chan struct{}):
		case <-time.After(5 * time.Second):
		}
	}
}

// watch waits for the task to end, records how, deletes the task (which
// closes its output) and tells the caller.
func (r *Runtime) watch(id string, dio cio.IO, wait <-chan exitStatus, started time.Time, exited func(string)) {
	st := <-wait
	if errors.Is(st.err, context.Canceled) {
		// The wait ended, not the process: edgecore is stopping (its
		// context ended or the client closed). The container runs on and
		// the next start adopts it; recording an exit would restart it.
		return
	}
	ctx := context.Background()
	e := Exit{Code: int32(st.code), StartedAt: started, FinishedAt: st.at, Reason: "Completed"}
	if st.err != nil {
		e.Code, e.Reason, e.Message = 255, "Error", st.err.Error()
	} else if st.code != 0 {
		e.Reason = "Error"
	}
	if st.code > 128 {
		e.Signal = int32(st.code - 128)
	}
	if r.oomKilled(ctx, id) {
		e.Reason = "OOMKilled"
	}
	r.recordExit(ctx, id, e)
	if err := r.deleteTask(ctx, id, false, dio); err != nil && !errdefs.IsNotFound(err) {
		klog.Warningf("containerd: %s: delete task: %v", id, err)
	}
	if exited != nil {
		exited(id)
	}
}

func (r *Runtime) recordExit(ctx context.Context, id string, e Exit) {
	raw, _ := json.Marshal(e)
	if err := r.setLabels(ctx, id, map[string]string{LabelExit: string(raw)}); err != nil {
		klog.Errorf("containerd: %s: record exit %+v: %v", id, e, err)
	}
}

// oomKilled reads the kernel's count of OOM kills in the container's
// cgroup, which lasts until the task is deleted: memory.events on cgroup2
// (a gateway), else memory.oom_control in the v1 memory hierarchy (hosts
// edgecore also runs on); both have an "oom_kill N" line.
func (r *Runtime) oomKilled(ctx context.Context, id string) bool {
	ctn, err := r.container(ctx, id)
	if err != nil {
		return false
	}
	s, err := spec(ctn)
	if err != nil || s.Linux == nil || s.Linux.CgroupsPath == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", s.Linux.CgroupsPath, "memory.events"))
	if err != nil {
		data, err = os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", s.Linux.CgroupsPath, "memory.oom_control"))
	}
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" && v != "0" {
			return true
		}
	}
	return false
}

// deleteTask deletes the container's task, which must have ended unless
// kill is set: then its processes are killed first and waited for. The
// task's output (dio, if any) is drained before and closed after, as
// containerd's client does; a task still running is left alone.
func (r *Runtime) deleteTask(ctx context.Context, id string, kill bool, dio cio.IO) error {
	resp, err := r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id})
	if err != nil {
		return errgrpc.ToNative(err)
	}
	if kill && resp.GetProcess().GetPid() != 0 {
		if err := r.killAndWait(ctx, id, ""); err != nil {
			return err
		}
		if resp, err = r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id}); err != nil {
			return errgrpc.ToNative(err)
		}
	}
	p := resp.GetProcess()
	switch st := p.GetStatus(); {
	case st == tasktypes.Status_STOPPED || st == tasktypes.Status_UNKNOWN:
	case st == tasktypes.Status_CREATED && p.GetPid() == 0:
	default:
		return fmt.Errorf("task must be stopped before deletion: %s: %w", strings.ToLower(st.String()), errdefs.ErrFailedPrecondition)
	}
	if dio != nil {
		// Let the output drain: the shim closes its ends.
		dio.Cancel()
		dio.Wait()
	}
	if _, err := r.tasks.Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: id}); err != nil {
		return errgrpc.ToNative(err)
	}
	if dio != nil {
		dio.Close()
	}
	return nil
}

// killAndWait sends SIGKILL to all the container's processes (or to one
// exec'd process) and waits until the process has ended.
func (r *Runtime) killAndWait(ctx context.Context, id, execID string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := r.wait(ctx, id, execID)
	err := r.kill(ctx, id, execID, syscall.SIGKILL, execID == "")
	switch {
	case errdefs.IsNotFound(err): // it may have been killed all the same
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait:
			return nil
		}
	case errdefs.IsFailedPrecondition(err):
		return nil
	case err != nil:
		return err
	}
	<-wait
	return nil
}

func (r *Runtime) kill(ctx context.Context, id, execID string, sig syscall.Signal, all bool) error {
	_, err := r.tasks.Kill(ctx, &tasksapi.KillRequest{ContainerID: id, ExecID: execID, Signal: uint32(sig), All: all})
	return errgrpc.ToNative(err)
}

// Stop ends the container's process: SIGTERM, then SIGKILL after grace.
// A container that is not running is left as it is.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	if _, err := r.container(ctx, id); err != nil {
		return ignoreNotFound(err)
	}
	if _, err := r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id}); err != nil {
		return ignoreNotFound(errgrpc.ToNative(err))
	}
	wait := r.wait(ctx, id, "")
	if grace > 0 {
		if err := r.kill(ctx, id, "", syscall.SIGTERM, false); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop %s: SIGTERM: %w", id, err)
		}
		select {
		case <-wait:
			r.awaitRecord(id)
			return nil
		case <-time.After(grace):
		case <-ctx.Done():
		}
	}
	if err := r.kill(context.WithoutCancel(ctx), id, "", syscall.SIGKILL, true); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGKILL: %w", id, err)
	}
	select {
	case <-wait:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: still running 10 s after SIGKILL", id)
	}
	r.awaitRecord(id)
	return nil
}

// taskState is Running for a live task. A task that stopped while nobody
// watched (edgecore was down) is Running until Attach's watcher records
// its exit; no task at all is Created.
func (r *Runtime) taskState(ctx context.Context, id string) State {
	if _, err := r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id}); err != nil {
		return Created
	}
	return Running
}

// Exec runs cmd in the running container and returns its exit code and
// combined output (at most 10 KiB kept), for exec probes and preStop
// hooks. ctx bounds it; the process is killed when ctx ends.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	ctn, err := r.container(ctx, id)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	s, err := spec(ctn)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	if _, err := r.tasks.Get(ctx, &tasksapi.GetRequest{ContainerID: id}); err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, errgrpc.ToNative(err))
	}
	pspec := *s.Process
	pspec.Args = cmd
	pspec.Terminal = false
	out := &cappedBuffer{max: 10 << 10}
	execID := fmt.Sprintf("exec-%d", time.Now().UnixNano())
	pio, err := cio.NewCreator(cio.WithStreams(nil, out, out), cio.WithFIFODir(r.s.FIFODir))(execID)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer pio.Close()
	defer pio.Cancel()
	if err := r.execProcess(ctx, id, execID, &pspec, pio.Config()); err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	started := false
	defer func() { r.deleteExec(context.WithoutCancel(ctx), id, execID, pio, started) }()
	wait := r.wait(ctx, id, execID)
	if _, err := r.tasks.Start(ctx, &tasksapi.StartRequest{ContainerID: id, ExecID: execID}); err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, errgrpc.ToNative(err))
	}
	started = true
	select {
	case st := <-wait:
		// The wait call shares ctx: when ctx ends, it may return first,
		// with the deadline as a gRPC status rather than ctx.Err().
		if st.err == nil || ctx.Err() == nil {
			pio.Wait()
			return int(st.code), out.Bytes(), st.err
		}
	case <-ctx.Done():
	}
	r.kill(context.WithoutCancel(ctx), id, execID, syscall.SIGKILL, false)
	return -1, out.Bytes(), fmt.Errorf("exec in %s: %w", id, ctx.Err())
}

// execProcess adds a process with spec p to the container's task.
func (r *Runtime) execProcess(ctx context.Context, id, execID string, p *specs.Process, io cio.Config) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = r.tasks.Exec(ctx, &tasksapi.ExecProcessRequest{
		ContainerID: id, ExecID: execID, Spec: &anypb.Any{TypeUrl: processTypeURL, Value: raw},
		Terminal: io.Terminal, Stdin: io.Stdin, Stdout: io.Stdout, Stderr: io.Stderr,
	})
	return errgrpc.ToNative(err)
}

// deleteExec deletes an exec'd process, killing it first if it was
// started and may still run.
func (r *Runtime) deleteExec(ctx context.Context, id, execID string, pio cio.IO, started bool) {
	if started {
		if err := r.killAndWait(ctx, id, execID); err != nil && !errdefs.IsNotFound(err) {
			klog.V(2).Infof("containerd: %s: exec %s: %v", id, execID, err)
		}
	}
	if _, err := r.tasks.DeleteProcess(ctx, &tasksapi.DeleteProcessRequest{ContainerID: id, ExecID: execID}); err != nil {
		klog.V(2).Infof("containerd: %s: delete exec %s: %v", id, execID, errgrpc.ToNative(err))
	}
	pio.Cancel()
	pio.Wait()
}

// cappedBuffer keeps the first max bytes written and drops the rest.
type cappedBuffer struct {
	mu  sync.Mutex // stdout and stderr copiers write concurrently
	max int
	b   []byte
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *cappedBuffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.b...)
}
