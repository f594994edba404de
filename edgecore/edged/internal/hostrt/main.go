package hostrt

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"testing"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

// The parent tells the child, and the tests, through the environment.
const (
	// workEnv is set in the child: the work directory the parent prepared.
	workEnv = "EDGEGATE_HOSTRT_WORK"
	// skipEnv says why the tests skip (no child was started).
	skipEnv = "EDGEGATE_HOSTRT_SKIP"
	// failEnv says why the tests fail: the runtime did not build.
	failEnv = "EDGEGATE_HOSTRT_FAIL"
)

// Main is a TestMain body: os.Exit(hostrt.Main(m)). It prepares the
// runtime and runs the package's tests in a child with namespaces of its
// own, where the daemon runs for all of them; where that cannot be, the
// tests run here and Start skips (or fails, for a build that broke).
func Main(m *testing.M) int {
	if work := os.Getenv(workEnv); work != "" {
		return runChild(m, work)
	}
	flag.Parse()
	if reason := unsupported(); reason != "" {
		os.Setenv(skipEnv, reason)
		return m.Run()
	}
	work, err := prepare()
	switch {
	case errors.Is(err, hostctrd.ErrMissing):
		os.Setenv(skipEnv, err.Error())
		return m.Run()
	case err != nil:
		os.Setenv(failEnv, err.Error())
		return m.Run()
	}
	defer os.RemoveAll(work)
	return runParent(work)
}

// unsupported says why this run cannot have the runtime, or "".
func unsupported() string {
	switch {
	case testing.Short():
		return "-short: builds and runs containerd as root"
	case os.Geteuid() != 0:
		return "needs root to run containerd, mounts and network namespaces"
	}
	return missingKernelParts()
}

// runParent runs the test binary again, with the same arguments, in a new
// mount and network namespace, and returns its exit status. Its output is
// this process's; SIGINT and SIGTERM are passed on, and it is killed if
// this process dies.
func runParent(work string) int {
	// Pdeathsig is tied to the thread that started the child.
	runtime.LockOSThread()
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), workEnv+"="+work)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "hostrt: starting the test binary in its own namespaces: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "hostrt: test binary in its own namespaces: %v\n", err)
		return 1
	}
}

// runChild is the child's TestMain: isolate, start the daemon, import the
// test image, run the tests, then remove every container and stop.
func runChild(m *testing.M, work string) int {
	h := hostFor(work)
	if err := isolate(h); err != nil {
		fmt.Fprintf(os.Stderr, "hostrt: %v\n", err)
		return 1
	}
	d, err := hostctrd.Start(h.Daemon, hostctrd.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostrt: %v\n", err)
		return 1
	}
	code := 1
	if err := importImage(h); err != nil {
		fmt.Fprintf(os.Stderr, "hostrt: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := stopDaemon(d); err != nil {
		fmt.Fprintf(os.Stderr, "hostrt: %v\n", err)
		code = max(code, 1)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "hostrt: the end of containerd's log:\n%s", d.LogTail())
	}
	removeCgroups()
	return code
}

// Start returns the host runtime of the running test binary, or skips
// the test saying why there is none.
func Start(t testing.TB) Host {
	t.Helper()
	if work := os.Getenv(workEnv); work != "" {
		return hostFor(work)
	}
	if reason := os.Getenv(failEnv); reason != "" {
		t.Fatalf("host containerd: %s", reason)
	}
	reason := os.Getenv(skipEnv)
	if reason == "" {
		reason = "the test binary's TestMain does not call hostrt.Main"
	}
	t.Skipf("host containerd: %s", reason)
	return Host{}
}
