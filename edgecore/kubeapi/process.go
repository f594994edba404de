package kubeapi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// process is one child (etcd or kube-apiserver) with its output in a file.
type process struct {
	name string
	log  string // path of the file with its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	err  error         // how it exited; read after done
}

// startProcess runs bin with args, its output appended to logPath. The
// child is not bound to a context: it outlives Start's and ends by stop.
func startProcess(name, logPath, bin string, args, env []string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childAttr()
	p := &process{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}

	started := make(chan error, 1)
	go func() {
		defer close(p.done)
		defer logFile.Close()
		// The parent-death signal childAttr asks for fires when the thread
		// that forked exits, not the process; Go ends threads whose
		// goroutine exits locked (netns tests do that). Forking from a
		// thread held until the child is reaped keeps the signal for what
		// it is meant for: the test binary dying without Stop.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			p.err = err
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("kubeapi: starting %s: %w", name, err)
	}
	klog.V(2).InfoS("kubeapi: started", "process", name, "pid", cmd.Process.Pid, "log", logPath)
	return p, nil
}

// exited tells whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an early exit with the end of the process's log.
func (p *process) exitError() error {
	<-p.done
	how := "exited"
	if p.cmd.ProcessState != nil {
		how = p.cmd.ProcessState.String() // "exit status 1", "signal: killed"
	} else if p.err != nil {
		how = p.err.Error()
	}
	return fmt.Errorf("kubeapi: %s ended early (%s); end of %s:\n%s", p.name, how, p.log, tail(p.log, 4096))
}

// stop asks the process to end (SIGTERM: both shut down cleanly and fast
// with an idle load) and kills it after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		klog.ErrorS(err, "kubeapi: terminating", "process", p.name)
	}
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	klog.InfoS("kubeapi: killing after grace period", "process", p.name, "grace", grace)
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		klog.ErrorS(err, "kubeapi: killing", "process", p.name)
	}
	<-p.done
}

// tail returns up to the last n bytes of the file at path, from a line
// start when possible.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	off := max(info.Size()-n, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, info.Size()-off))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	s := string(b)
	if off > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}
