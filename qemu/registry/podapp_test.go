package registry

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostPodapp is podapp built for the machine running the tests, so its
// commands can be tried here rather than in a guest.
func hostPodapp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "podapp")
	if err := os.WriteFile(bin, BuildPodapp(t, runtime.GOARCH, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestPodappCommands(t *testing.T) {
	bin := hostPodapp(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	written := filepath.Join(dir, "sub", "dir", "written")

	for _, tc := range []struct {
		name      string
		args, env []string
		code      int
		stdout    string // exact
		stderr    string // contained
	}{
		{name: "exit", args: []string{"exit", "3"}, code: 3, stdout: "podapp: exit 3\n"},
		{name: "exit after", args: []string{"exit", "4", "--after", "0.1"}, code: 4, stdout: "podapp: exit 4\n"},
		{name: "exit zero", args: []string{"exit", "0"}, stdout: "podapp: exit 0\n"},
		{name: "mode from env", env: []string{"APP_MODE=exit 5 --after 10ms"}, code: 5, stdout: "podapp: exit 5\n"},
		{name: "args win over env", args: []string{"exit", "6"}, env: []string{"APP_MODE=exit 5"}, code: 6, stdout: "podapp: exit 6\n"},
		{name: "print-env sorted", args: []string{"print-env"}, env: []string{"Z=26", "A=1", "M=13"}, stdout: "A=1\nM=13\nZ=26\n"},
		{name: "cat", args: []string{"cat", existing, existing}, stdout: "hello\nhello\n"},
		{name: "cat missing", args: []string{"cat", existing, filepath.Join(dir, "missing")}, code: 1, stdout: "hello\n", stderr: "missing: no such file"},
		{name: "write", args: []string{"write", written, "from init"}, stdout: "podapp: wrote 9 bytes to " + written + "\n"},
		{name: "sleep", args: []string{"sleep", "50ms"}, stdout: "podapp: sleeping 50ms\n"},
		{name: "sleep seconds", args: []string{"sleep", "0.05"}, stdout: "podapp: sleeping 50ms\n"},
		{name: "no command", code: 2, stderr: "usage:"},
		{name: "unknown command", args: []string{"fly"}, code: 2, stderr: `unknown command "fly"`},
		{name: "too many args", args: []string{"sleep", "1", "2"}, code: 2, stderr: "wrong number of arguments"},
		{name: "too few args", args: []string{"write", "f"}, code: 2, stderr: "wrong number of arguments"},
		{name: "bad duration", args: []string{"exit", "1", "--after", "soon"}, code: 2, stderr: `bad duration "soon"`},
		{name: "bad exit status", args: []string{"exit", "300"}, code: 1, stderr: "bad exit status"},
		{name: "unknown flag", args: []string{"serve", "--bogus"}, code: 2, stderr: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, tc.args...)
			cmd.Env = append([]string{}, tc.env...) // exactly tc.env, never the test's
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := exitCodeOf(t, err); code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.stderr)
			}
		})
	}
	if got, err := os.ReadFile(written); err != nil || string(got) != "from init" {
		t.Errorf("written file: %q, %v; want %q", got, err, "from init")
	}
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		return exit.ExitCode()
	}
	t.Fatalf("running podapp: %v", err)
	return -1
}

func TestPodappServe(t *testing.T) {
	bin := hostPodapp(t)
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "served")
	if err := os.WriteFile(file, []byte("file content"), 0o644); err != nil {
		t.Fatal(err)
	}
	const readyAfter = 2 * time.Second
	p := startPodapp(t, bin, []string{"POD_NAME=web-0", "A=first"},
		"serve", "--port", port, "--ready-after", readyAfter.String(), "--text", "hi there")
	base := "http://127.0.0.1:" + port

	// Before readyAfter, /healthz says not ready; from then on, ready.
	for {
		code, _ := get(t, base+"/healthz")
		if code == 0 {
			time.Sleep(20 * time.Millisecond)
			continue // not listening yet
		}
		if time.Since(p.started) < readyAfter && code != http.StatusServiceUnavailable {
			t.Fatalf("/healthz %d %v after start, want 503 before %v", code, time.Since(p.started), readyAfter)
		}
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/healthz %d, want 503 then 200", code)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/", 200, "hi there\n"},
		{"/env", 200, "A=first\nPOD_NAME=web-0\n"},
		{"/file?path=" + file, 200, "file content"},
		{"/file?path=" + file + ".missing", 404, ""},
		{"/file", 400, ""},
		{"/nothing-here", 404, ""},
	} {
		code, body := get(t, base+tc.path)
		if code != tc.code || (tc.body != "" && body != tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
	p.waitOutput(t, "podapp: GET /healthz 503 from 127.0.0.1:")
	p.waitOutput(t, "podapp: GET /healthz 200 from 127.0.0.1:")
	p.waitOutput(t, "podapp: GET /nothing-here 404 from 127.0.0.1:")
}

// TestPodappSIGTERM checks that every long-running role exits 0 on SIGTERM,
// saying so, and only after its --term-delay.
func TestPodappSIGTERM(t *testing.T) {
	bin := hostPodapp(t)
	for _, tc := range []struct {
		name  string
		args  []string
		ready string // output that shows the role is under way
		delay time.Duration
	}{
		{"serve", []string{"serve", "--port", freePort(t), "--term-delay", "300ms"}, "podapp: serving on", 300 * time.Millisecond},
		{"log", []string{"--term-delay", "0.2", "log", "3"}, "podapp: log line 3 of 3\n", 200 * time.Millisecond},
		{"alloc", []string{"alloc", "4"}, "podapp: holding 4 MiB\n", 0},
		{"sleep", []string{"sleep", "1h"}, "podapp: sleeping 1h0m0s\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPodapp(t, bin, nil, tc.args...)
			p.waitOutput(t, tc.ready)
			sent := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t)
			if took := time.Since(sent); took < tc.delay {
				t.Errorf("exited %v after SIGTERM, want at least the term delay %v", took, tc.delay)
			}
			if code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			if !strings.Contains(p.output(t), "podapp: SIGTERM\n") {
				t.Errorf("output %q does not announce SIGTERM", p.output(t))
			}
		})
	}
}

func TestPodappAllocProgress(t *testing.T) {
	p := startPodapp(t, hostPodapp(t), nil, "alloc", "3")
	p.waitOutput(t, "podapp: holding 3 MiB\n")
	want := "podapp: allocated 1 MiB\npodapp: allocated 2 MiB\npodapp: allocated 3 MiB\npodapp: holding 3 MiB\n"
	if got := p.output(t); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestBuildPodappCross checks the guest builds: static ELF executables for
// the gateway's CPUs, compiled once per test binary.
func TestBuildPodappCross(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiling podapp can take a minute on a cold build cache")
	}
	for _, tc := range []struct {
		goarch, goarm string
		machine       elf.Machine
	}{
		{"arm64", "", elf.EM_AARCH64},
		{"arm", "7", elf.EM_ARM},
	} {
		t.Run(tc.goarch, func(t *testing.T) {
			bin := BuildPodapp(t, tc.goarch, tc.goarm)
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatal(err)
			}
			if f.Machine != tc.machine || f.Type != elf.ET_EXEC {
				t.Errorf("%v %v, want an %v executable", f.Machine, f.Type, tc.machine)
			}
			if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
				t.Error("dynamically linked, want static")
			}
			if again := BuildPodapp(t, tc.goarch, tc.goarm); &again[0] != &bin[0] {
				t.Error("second BuildPodapp compiled again, want the cached build")
			}
		})
	}
}

// podappProcess is podapp running in the background, its stdout and stderr
// going to a file.
type podappProcess struct {
	cmd     *exec.Cmd
	out     string
	started time.Time
	done    chan struct{}
}

func startPodapp(t *testing.T, bin string, env []string, args ...string) *podappProcess {
	t.Helper()
	out := filepath.Join(t.TempDir(), "output")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &podappProcess{cmd: exec.Command(bin, args...), out: out, done: make(chan struct{})}
	p.cmd.Env = append([]string{}, env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.started = time.Now()
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the exit status once podapp has exited.
func (p *podappProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatalf("podapp still running; output:\n%s", p.output(t))
		return -1
	}
}

func (p *podappProcess) output(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitOutput waits until podapp has written s.
func (p *podappProcess) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.output(t), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from podapp within 10s; output:\n%s", s, p.output(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the status and body of url; status 0 when nothing answers.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}
