package supervise

import (
	"fmt"
	"os/exec"
	"syscall"
)

// Exit is how a process ended.
type Exit struct {
	Code   int            // exit status when it exited
	Signal syscall.Signal // the signal when it was killed, else 0
}

// Success is exit status 0.
func (e Exit) Success() bool { return e.Signal == 0 && e.Code == 0 }

func (e Exit) String() string {
	if e.Signal != 0 {
		return "signal " + e.Signal.String()
	}
	return fmt.Sprintf("status %d", e.Code)
}

func exitOf(ws syscall.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal()}
	}
	return Exit{Code: ws.ExitStatus()}
}

// Starter starts a command and reports its end on the returned channel
// (one value, then nothing). It exists because in PID 1 exactly one place
// may call wait4: a Reaper. Outside PID 1 (tests, a host) DirectStarter
// waits for each process itself.
//
// Callers use the returned pid, not cmd.Process, which a Reaper releases
// as soon as the process is reaped.
type Starter interface {
	Start(cmd *exec.Cmd) (pid int, exit <-chan Exit, err error)
}

// DirectStarter waits for each process with os.Process.Wait.
type DirectStarter struct{}

// Start implements Starter.
func (DirectStarter) Start(cmd *exec.Cmd) (int, <-chan Exit, error) {
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	ch := make(chan Exit, 1)
	go func() {
		st, err := cmd.Process.Wait()
		if err != nil {
			ch <- Exit{Code: -1}
			return
		}
		ch <- exitOf(st.Sys().(syscall.WaitStatus))
	}()
	return cmd.Process.Pid, ch, nil
}
