package hostctrd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	initctrd "github.com/edgegate/edgegate/init/containerd"
)

const (
	// startTimeout bounds containerd's start (about a second).
	startTimeout = 30 * time.Second
	// stopTimeout is how long containerd has to stop after SIGTERM.
	stopTimeout = 10 * time.Second
	// logTailBytes is how much of the daemon's log a failure shows.
	logTailBytes = 8 << 10
)

// Options change how Start runs the daemon; the zero value runs it as
// init does, in this process's mount namespace.
type Options struct {
	// TmpfsMiB, when above 0, puts the daemon's root on a tmpfs of that
	// many MiB mounted in a mount namespace of the daemon's own: the disk
	// it fills is real and small, and the mount goes with the process.
	TmpfsMiB int
}

// Daemon is a running containerd.
type Daemon struct {
	// Settings are its paths, as init/containerd describes them.
	Settings initctrd.Settings
	root     string // Settings.Root as this process reaches it
	cmd      *exec.Cmd
	done     chan error // the process's exit
}

// Start writes the daemon's configuration for s (initctrd.ConfigTOML, at
// s.ConfigPath()), runs s.Binary with it, as init's service would without
// the jail a read-only root needs, and waits until it answers. The daemon
// finds the shim and runc next to s.Binary; its log is in s.State. It is
// killed if the thread that started it ends, so it cannot outlive a test
// binary that dies. A daemon that does not answer is killed and the error
// ends with the end of its log.
func Start(s initctrd.Settings, o Options) (*Daemon, error) {
	for _, dir := range []string{s.Root, s.State} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("containerd directories: %w", err)
		}
	}
	if err := os.WriteFile(s.ConfigPath(), initctrd.ConfigTOML(s), 0o644); err != nil {
		return nil, fmt.Errorf("containerd config: %w", err)
	}
	log, err := os.Create(logPath(s))
	if err != nil {
		return nil, fmt.Errorf("containerd log: %w", err)
	}
	defer log.Close()
	cmd := command(s, o)
	cmd.Stdout, cmd.Stderr = log, log
	d := &Daemon{Settings: s, root: s.Root, cmd: cmd, done: make(chan error, 1)}
	if err := d.run(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	if o.TmpfsMiB > 0 {
		d.root = fmt.Sprintf("/proc/%d/root%s", cmd.Process.Pid, s.Root)
	}
	if err := d.waitHealthy(); err != nil {
		cmd.Process.Kill()
		<-d.done
		return nil, fmt.Errorf("%w; the end of containerd's log:\n%s", err, d.LogTail())
	}
	return d, nil
}

// command is the daemon's command line: the binary, or with a tmpfs root
// a shell that mounts it first and then becomes the daemon. --address as
// well as the configuration: containerd 2.4 does not take the socket from
// a version 4 file's top-level [grpc] section.
func command(s initctrd.Settings, o Options) *exec.Cmd {
	args := []string{"--config", s.ConfigPath(), "--address", s.Socket}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var cmd *exec.Cmd
	if o.TmpfsMiB > 0 {
		mount := `mount -t tmpfs -o size="$1"m tmpfs "$2" && shift 2 && exec "$@"`
		cmd = exec.Command("/bin/sh", append([]string{"-c", mount, "sh", strconv.Itoa(o.TmpfsMiB), s.Root, s.Binary}, args...)...)
		// Go makes the new namespace's mounts private, so the tmpfs
		// stays in it.
		attr.Unshareflags = syscall.CLONE_NEWNS
	} else {
		cmd = exec.Command(s.Binary, args...)
	}
	cmd.SysProcAttr = attr
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(s.Binary)+":"+os.Getenv("PATH"))
	return cmd
}

// run starts the daemon and reaps it into d.done.
func (d *Daemon) run() error {
	started := make(chan error)
	go func() {
		// The kernel sends Pdeathsig when the thread that forked the
		// daemon ends, and the Go runtime ends threads (one a goroutine
		// left locked, as network namespace code does): this goroutine
		// keeps its thread for the daemon's life.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := d.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.done <- d.cmd.Wait()
	}()
	return <-started
}

func (d *Daemon) waitHealthy() error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := initctrd.Version(ctx, d.Settings.Socket)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case exit := <-d.done:
			d.done <- exit
			return fmt.Errorf("containerd exited at start: %v", exit)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd not answering after %s: %w", startTimeout, err)
		}
	}
}

// Root is the daemon's root directory as this process reaches it: with a
// tmpfs root, through the daemon's /proc/<pid>/root.
func (d *Daemon) Root() string { return d.root }

// Stop sends SIGTERM, kills the daemon if it has not ended within
// stopTimeout, then lazily unmounts whatever is still mounted under its
// root and state (a task's root filesystem, should a test have failed
// before removing it), so that their directories can go. Containers the
// daemon ran stay unless removed before.
func (d *Daemon) Stop() error {
	return errors.Join(d.Interrupt(), unmountUnder(d.Settings.Root, d.Settings.State))
}

// Interrupt ends the daemon as a restart of containerd on a gateway
// does: SIGTERM, SIGKILL if it has not ended within stopTimeout. Its
// containers, their shims and their mounts stay; Start with the same
// settings brings the daemon back to them.
func (d *Daemon) Interrupt() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case exit := <-d.done:
		d.done <- exit
		return nil
	case <-time.After(stopTimeout):
		d.cmd.Process.Kill()
		d.done <- <-d.done
		return fmt.Errorf("containerd did not stop within %s of SIGTERM", stopTimeout)
	}
}

// LogTail is the end of the daemon's log, for a failed run.
func (d *Daemon) LogTail() string {
	data, err := os.ReadFile(logPath(d.Settings))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(tail(data, logTailBytes))
}

func logPath(s initctrd.Settings) string { return filepath.Join(s.State, "containerd.log") }

// tail is the last n bytes of b from a line's start, or all of b.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	return b[bytes.IndexByte(b, '\n')+1:]
}
