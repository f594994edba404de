package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// Binary is the registry of Debian's docker-registry package.
	Binary = "/usr/bin/docker-registry"
	// RequireEnv, when set, turns a missing registry binary from a skip
	// into a failure, so a CI that installed it cannot silently skip.
	RequireEnv = "EDGEGATE_REQUIRE_REGISTRY"

	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
	// Attempts at a free port: another process may take the one picked
	// between its release and the registry binding it.
	portAttempts = 3
)

// Options configure a registry.
type Options struct {
	// User and Password, when User is set, make the registry require HTTP
	// basic auth (htpasswd) for every request.
	User, Password string
}

// Registry is a running docker-registry serving plain HTTP on loopback.
type Registry struct {
	addr           string
	user, password string
	client         *http.Client
}

// Start runs a registry for the rest of t, storing into a temporary
// directory, and returns once it answers /v2/. Its log goes to a file that
// is shown when t fails. Start skips t when the registry binary is absent,
// unless RequireEnv is set.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	checkBinary(t, Binary)
	dir := t.TempDir()
	htpasswd := ""
	if opts.User != "" {
		htpasswd = filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(htpasswd, opts.User, opts.Password); err != nil {
			t.Fatal(err)
		}
	}
	r := &Registry{user: opts.User, password: opts.Password, client: &http.Client{Timeout: time.Minute}}
	logFile := filepath.Join(dir, "registry.log")
	for attempt := 1; ; attempt++ {
		p, err := r.launch(t.Context(), dir, htpasswd, logFile)
		if err == nil {
			t.Cleanup(func() { p.stop(t, logFile) })
			return r
		}
		if attempt == portAttempts || !strings.Contains(readLog(logFile), "address already in use") {
			t.Fatalf("registry: %v\n%s", err, readLog(logFile))
		}
	}
}

// checkBinary skips t when the registry binary is missing, or fails it
// when RequireEnv says the registry must be there.
func checkBinary(t testing.TB, path string) {
	t.Helper()
	_, err := os.Stat(path)
	switch {
	case err == nil:
	case os.Getenv(RequireEnv) != "":
		t.Fatalf("registry: %v (install Debian package docker-registry; %s is set)", err, RequireEnv)
	default:
		t.Skipf("registry: %v (install Debian package docker-registry, or set %s to fail instead)", err, RequireEnv)
	}
}

// launch starts the registry on a free loopback port and waits until it
// serves; when it does not, the process is gone on return.
func (r *Registry) launch(ctx context.Context, dir, htpasswd, logFile string) (*process, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yml")
	if err := writeConfig(config, filepath.Join(dir, "storage"), addr, htpasswd); err != nil {
		return nil, err
	}
	p, err := startProcess(config, logFile)
	if err != nil {
		return nil, err
	}
	r.addr = addr
	if err := r.waitServing(ctx, p); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitServing polls /v2/ until the registry answers (401 counts: it is
// the answer of a registry requiring auth) or its process exits.
func (r *Registry) waitServing(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("/v2/"), nil)
		if err != nil {
			return err
		}
		resp, err := r.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("docker-registry exited before serving on %s: %w", r.addr, p.err)
		case <-ctx.Done():
			return fmt.Errorf("docker-registry not serving on %s after %v (last: %v)", r.addr, startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr is the registry's host:port on the host's loopback.
func (r *Registry) Addr() string { return r.addr }

// Port is the registry's TCP port: a QEMU guest on user networking
// reaches it at 10.0.2.2:Port().
func (r *Registry) Port() string {
	_, port, _ := net.SplitHostPort(r.addr)
	return port
}

func (r *Registry) url(path string) string { return "http://" + r.addr + path }

// freeLoopbackAddr picks a TCP port nobody listens on now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port for the registry: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// process is the running registry binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited; err is then set
	err  error
}

func startProcess(config, logFile string) (*process, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("registry log: %w", err)
	}
	defer log.Close() // the child has its own copy
	cmd := exec.Command(Binary, "serve", config)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = registryEnv()
	// Die with the test binary, even when a test timeout kills it before
	// any cleanup can run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", Binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// registryEnv is the test's environment without REGISTRY_* variables,
// which the registry reads as overrides of its configuration.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop terminates the registry and, when t failed, shows its log.
func (p *process) stop(t testing.TB, logFile string) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.kill()
	}
	if t.Failed() {
		t.Logf("docker-registry log:\n%s", readLog(logFile))
	}
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// readLog returns the end of the registry log, enough to see why it
// failed without flooding the test output.
func readLog(file string) string {
	const max = 32 << 10
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("(no registry log: %v)", err)
	}
	if len(data) > max {
		data = append([]byte("...\n"), data[len(data)-max:]...)
	}
	return string(data)
}
