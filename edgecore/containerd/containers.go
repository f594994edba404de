package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"k8s.io/klog/v2"
)

// Labels edged keeps on its containers: who they belong to, and what the
// kubelet would keep in its memory (attempt, spec hash, how it ended), so
// that an edgecore restart loses nothing.
const (
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelContainerName = "io.kubernetes.container.name"
	LabelAttempt       = "io.edgegate.container.attempt"
	LabelHash          = "io.edgegate.container.hash"
	LabelInit          = "io.edgegate.container.init"
	LabelImageID       = "io.edgegate.container.image-id"
	LabelStarted       = "io.edgegate.container.started"
	LabelExit          = "io.edgegate.container.exit"
)

// Log receives a container's output streams; each Copy runs until its
// stream ends.
type Log interface {
	Copy(stream string, r io.Reader) error
	Close() error
}

// Exit is how a container ended, kept in its LabelExit.
type Exit struct {
	Code       int32     `json:"code"`
	Signal     int32     `json:"signal,omitempty"`
	Reason     string    `json:"reason"` // Completed, Error, OOMKilled, ContainerCannotRun
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// State of a container as List reports it.
type State int

// Container states.
const (
	Created State = iota // created, never started or start failed
	Running
	Exited
)

// Container is one of edged's containers.
type Container struct {
	ID        string
	Labels    map[string]string
	Image     string
	CreatedAt time.Time
	State     State
	StartedAt time.Time
	Exit      *Exit // when Exited
}

// Attempt is the container's LabelAttempt.
func (c Container) Attempt() int {
	n, _ := strconv.Atoi(c.Labels[LabelAttempt])
	return n
}

// Create makes a container (not started) from img with the spec opts.
func (r *Runtime) Create(ctx context.Context, id string, img Image, labels map[string]string, opts []oci.SpecOpts) error {
	labels = withLabel(labels, LabelImageID, ImageRepoDigest(img))
	_, err := r.c.NewContainer(ctx, id,
		client.WithImage(img.img),
		client.WithSnapshotter(r.s.Snapshotter),
		client.WithNewSnapshot(id, img.img),
		client.WithRuntime(r.s.Runtime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img.img)}, opts...)...))
	if err != nil {
		return fmt.Errorf("create container %s: %w", id, err)
	}
	return nil
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// Start starts the container's process with its output going to log, and
// calls exited (on another goroutine) once it has ended and its exit is
// recorded. A start that fails (bad command, say) records the failure as
// the exit, reason ContainerCannotRun.
func (r *Runtime) Start(ctx context.Context, id string, log Log, exited func(id string)) error {
	ctn, err := r.c.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	task, err := ctn.NewTask(ctx, r.ioCreator(ctx, log))
	if err != nil {
		r.recordExit(ctx, ctn, Exit{Code: 128, Reason: "ContainerCannotRun", Message: err.Error(), FinishedAt: time.Now()})
		log.Close()
		return fmt.Errorf("start %s: %w", id, err)
	}
	wait, err := task.Wait(ctx)
	if err != nil {
		task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		return fmt.Errorf("start %s: wait: %w", id, err)
	}
	started := time.Now()
	if err := task.Start(ctx); err != nil {
		task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		r.recordExit(ctx, ctn, Exit{Code: 128, Reason: "ContainerCannotRun", Message: err.Error(), StartedAt: started, FinishedAt: time.Now()})
		return fmt.Errorf("start %s: %w", id, err)
	}
	if _, err := ctn.SetLabels(ctx, map[string]string{LabelStarted: started.UTC().Format(time.RFC3339Nano)}); err != nil {
		klog.Warningf("containerd: %s: record start: %v", id, err)
	}
	go r.watch(ctn, task, wait, started, exited)
	return nil
}

// Attach adopts a running container after an edgecore restart: its
// output goes to log again, and exited is called when it ends.
func (r *Runtime) Attach(ctx context.Context, id string, log Log, exited func(id string)) error {
	ctn, err := r.c.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("attach %s: %w", id, err)
	}
	task, err := ctn.Task(ctx, func(fs *cio.FIFOSet) (cio.IO, error) { return r.directIO(ctx, fs, log) })
	if err != nil {
		return fmt.Errorf("attach %s: %w", id, err)
	}
	wait, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("attach %s: wait: %w", id, err)
	}
	info, _ := ctn.Info(ctx)
	started, _ := time.Parse(time.RFC3339Nano, info.Labels[LabelStarted])
	go r.watch(ctn, task, wait, started, exited)
	return nil
}

// ioCreator makes FIFOs under FIFODir whose reading ends feed log.
func (r *Runtime) ioCreator(ctx context.Context, log Log) cio.Creator {
	return func(id string) (cio.IO, error) {
		fs, err := cio.NewFIFOSetInDir(r.s.FIFODir, id, false)
		if err != nil {
			return nil, err
		}
		fs.Stdin = ""
		return r.directIO(ctx, fs, log)
	}
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

// watch waits for the task to end, records how, deletes the task (which
// closes its output) and tells the caller.
func (r *Runtime) watch(ctn client.Container, task client.Task, wait <-chan client.ExitStatus, started time.Time, exited func(string)) {
	st := <-wait
	ctx := context.Background()
	code, at, err := st.Result()
	e := Exit{Code: int32(code), StartedAt: started, FinishedAt: at, Reason: "Completed"}
	if err != nil {
		e.Code, e.Reason, e.Message = 255, "Error", err.Error()
	} else if code != 0 {
		e.Reason = "Error"
	}
	if code > 128 {
		e.Signal = int32(code - 128)
	}
	if r.oomKilled(ctx, ctn) {
		e.Reason = "OOMKilled"
	}
	r.recordExit(ctx, ctn, e)
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		klog.Warningf("containerd: %s: delete task: %v", ctn.ID(), err)
	}
	if exited != nil {
		exited(ctn.ID())
	}
}

func (r *Runtime) recordExit(ctx context.Context, ctn client.Container, e Exit) {
	raw, _ := json.Marshal(e)
	if _, err := ctn.SetLabels(ctx, map[string]string{LabelExit: string(raw)}); err != nil {
		klog.Errorf("containerd: %s: record exit %+v: %v", ctn.ID(), e, err)
	}
}

// oomKilled reads the container's cgroup memory.events: the kernel counts
// the OOM kills in it, and the cgroup lasts until the task is deleted.
func (r *Runtime) oomKilled(ctx context.Context, ctn client.Container) bool {
	spec, err := ctn.Spec(ctx)
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", spec.Linux.CgroupsPath, "memory.events"))
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

// Stop ends the container's process: SIGTERM, then SIGKILL after grace.
// A container that is not running is left as it is.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctn, err := r.c.LoadContainer(ctx, id)
	if err != nil {
		return ignoreNotFound(err)
	}
	task, err := ctn.Task(ctx, nil)
	if err != nil {
		return ignoreNotFound(err)
	}
	wait, err := task.Wait(ctx)
	if err != nil {
		return ignoreNotFound(err)
	}
	if grace > 0 {
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop %s: SIGTERM: %w", id, err)
		}
		select {
		case <-wait:
			return nil
		case <-time.After(grace):
		case <-ctx.Done():
		}
	}
	if err := task.Kill(context.WithoutCancel(ctx), syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: SIGKILL: %w", id, err)
	}
	select {
	case <-wait:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: still running 10 s after SIGKILL", id)
	}
	return nil
}

// Remove deletes a container that is not running, with its snapshot.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	ctn, err := r.c.LoadContainer(ctx, id)
	if err != nil {
		return ignoreNotFound(err)
	}
	if task, err := ctn.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove %s: task: %w", id, err)
		}
	}
	if err := ctn.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// List returns edged's containers (those with a pod UID label) and their
// states; those of one pod only when podUID is set (containerd filters
// them: a pod's sync must not cost a query per container of the node).
func (r *Runtime) List(ctx context.Context, podUID string) ([]Container, error) {
	filter := fmt.Sprintf("labels.%q", LabelPodUID)
	if podUID != "" {
		filter = fmt.Sprintf("labels.%q==%q", LabelPodUID, podUID)
	}
	ctns, err := r.c.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Container, 0, len(ctns))
	for _, ctn := range ctns {
		info, err := ctn.Info(ctx, client.WithoutRefreshedMetadata)
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("list containers: %s: %w", ctn.ID(), err)
		}
		c := Container{ID: info.ID, Labels: info.Labels, Image: info.Image, CreatedAt: info.CreatedAt}
		c.StartedAt, _ = time.Parse(time.RFC3339Nano, info.Labels[LabelStarted])
		if raw := info.Labels[LabelExit]; raw != "" {
			var e Exit
			if json.Unmarshal([]byte(raw), &e) == nil {
				c.State, c.Exit = Exited, &e
			}
		}
		if c.State != Exited {
			c.State = r.taskState(ctx, ctn)
		}
		out = append(out, c)
	}
	return out, nil
}

// taskState is Running for a live task. A task that stopped while nobody
// watched (edgecore was down) is Running until Attach's watcher records
// its exit; no task at all is Created.
func (r *Runtime) taskState(ctx context.Context, ctn client.Container) State {
	task, err := ctn.Task(ctx, nil)
	if err != nil {
		return Created
	}
	if _, err := task.Status(ctx); err != nil {
		return Created
	}
	return Running
}

// Exec runs cmd in the running container and returns its exit code and
// combined output (at most 10 KiB kept), for exec probes and preStop
// hooks. ctx bounds it; the process is killed when ctx ends.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	ctn, err := r.c.LoadContainer(ctx, id)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	spec, err := ctn.Spec(ctx)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	task, err := ctn.Task(ctx, nil)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	out := &cappedBuffer{max: 10 << 10}
	execID := fmt.Sprintf("exec-%d", time.Now().UnixNano())
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, out, out), cio.WithFIFODir(r.s.FIFODir)))
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer proc.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	wait, err := proc.Wait(ctx)
	if err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	select {
	case st := <-wait:
		code, _, err := st.Result()
		proc.IO().Wait()
		return int(code), out.Bytes(), err
	case <-ctx.Done():
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return -1, out.Bytes(), fmt.Errorf("exec in %s: %w", id, ctx.Err())
	}
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
