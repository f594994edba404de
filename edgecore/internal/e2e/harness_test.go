// Package e2e runs the real edgecore binary against the test cloud over
// loopback: join with a token, pod delivery and acks, outages, restarts,
// bad input and refusals.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/edgecore/metamanager"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
)

// binary is the edgecore built once for the package.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	benchmarking := false
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		// The test cloud logs as cloudcore does; in the middle of a
		// benchmark's result line that would break the report.
		klog.SetLogger(logr.Discard())
		benchmarking = true
	}
	dir, err := os.MkdirTemp("", "edgecore-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "edgecore")
	build := exec.Command("go", buildArgs(benchmarking)...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build edgecore:", err)
		os.Exit(1)
	}
	code := m.Run()
	kubeapi.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildArgs builds edgecore with the race detector for the tests, so a race
// in the real binary under the suite's traffic fails the test that drove
// it; benchmarks measure the binary as the gateway runs it.
func buildArgs(benchmarking bool) []string {
	args := []string{"build", "-trimpath", "-tags", image.BuildTags, "-ldflags=-s -w", "-o", binary}
	if !benchmarking {
		args = append(args, "-race")
	}
	return append(args, "github.com/edgegate/edgegate/cmd/edgecore")
}

// raceReport is what the race detector prints when it finds a race.
const raceReport = "WARNING: DATA RACE"

// kube is the Kubernetes API server behind every cloud of the suite,
// started once: what the edge sends is applied to it as cloudcore does,
// and what it accepts is what counts.
func kube(t testing.TB) *kubeapi.Server {
	t.Helper()
	s := kubeapi.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.EnsureNamespace(ctx, testNamespace); err != nil {
		t.Fatal(err)
	}
	return s
}

// testNamespace holds the suite's pods.
const testNamespace = "e2e"

// newCloud starts a test cloud backed by the suite's API server.
func newCloud(t testing.TB, opts testcloud.Options) *testcloud.Cloud {
	t.Helper()
	opts.Kube = kube(t).Client()
	return testcloud.ForTest(t, opts)
}

// nodeNameFor makes a node name of the test's name, so tests sharing the
// API server never share a node.
func nodeNameFor(t testing.TB) string {
	name := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 50 {
		n = strings.Trim(n[:50], "-")
	}
	return "e2e-" + n
}

// node is one edge node's files: config, store and certificates.
type node struct {
	name            string
	dir, config, db string
}

// newNode writes the config `keadm join --cloudcore-ipport=<ws>
// --token=<token> --edgenode-name=<name>` would leave, with paths under a
// temp dir and a short heartbeat so tests do not wait 15 s per step.
func newNode(t testing.TB, cloud *testcloud.Cloud, token string) *node {
	t.Helper()
	return newNodeOpts(t, cloud, token, nodeOptions{})
}

// newNodeQPS is newNode with modules.edgeHub.messageQPS (burst 2×qps).
func newNodeQPS(t testing.TB, cloud *testcloud.Cloud, token string, qps int) *node {
	t.Helper()
	return newNodeOpts(t, cloud, token, nodeOptions{qps: qps})
}

// nodeOptions adjust newNode's configuration; zero values keep its.
type nodeOptions struct {
	name      string // default: from the test's name
	qps       int    // modules.edgeHub.messageQPS (30; burst twice that)
	heartbeat int    // modules.edgeHub.heartbeat in seconds (1)
	kubelet   string // more tailoredKubeletConfig lines, indented six spaces
	// edged enables modules.edged. Off by default: this host runs no
	// containerd, and edged keeps a node without a runtime not Ready (the
	// QEMU tests run pods); on for the tests of what reaches edged.
	edged bool
	// rootDirectory is modules.edged.rootDirectory, where edged keeps
	// pods' volumes (<rootDirectory>/pods); "": the default, or with edged
	// enabled a directory of the test's, so that no test writes to the
	// host's.
	rootDirectory string
}

func newNodeOpts(t testing.TB, cloud *testcloud.Cloud, token string, o nodeOptions) *node {
	t.Helper()
	if o.name == "" {
		o.name = nodeNameFor(t)
	}
	if o.qps == 0 {
		o.qps = 30
	}
	if o.heartbeat == 0 {
		o.heartbeat = 1
	}
	dir := t.TempDir()
	if o.edged && o.rootDirectory == "" {
		o.rootDirectory = filepath.Join(dir, "kubelet")
	}
	n := &node{name: o.name, dir: dir, config: filepath.Join(dir, "edgecore.yaml"), db: filepath.Join(dir, "edgecore.db")}
	doc := fmt.Sprintf(`apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database:
  dataSource: %[1]s/edgecore.db
modules:
  edged:
    enable: %[10]v
    hostnameOverride: %[2]s%[11]s
    updateStatusFile: %[1]s/update/status.json
    tailoredKubeletConfig:
      nodeStatusUpdateFrequency: 1s
%[8]s
  edgeHub:
    enable: true
    heartbeat: %[9]d
    messageQPS: %[6]d
    messageBurst: %[7]d
    httpServer: %[3]s
    token: %[4]s
    tlsCaFile: %[1]s/ca/rootCA.crt
    tlsCertFile: %[1]s/certs/server.crt
    tlsPrivateKeyFile: %[1]s/certs/server.key
    websocket:
      enable: true
      server: %[5]s
  metaManager:
    enable: true
`, dir, n.name, cloud.HTTPServer(), token, cloud.WSServer(), o.qps, 2*o.qps, o.kubelet, o.heartbeat, o.edged, rootDirectoryLine(o.rootDirectory))
	if err := os.WriteFile(n.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// bootstrapFile is where this node's keadm would leave the join token.
func (n *node) bootstrapFile() string { return filepath.Join(n.dir, "bootstrap-edgecore.conf") }

// updateStatusFile is where this node reads the update service's outcome
// (modules.edged.updateStatusFile): under the test's directory, so that no
// test reads the host's.
func (n *node) updateStatusFile() string { return filepath.Join(n.dir, "update", "status.json") }

// socket is edgecore's inspection socket.
func (n *node) socket() string { return filepath.Join(n.dir, "inspect.sock") }

// edged asks the running edgecore what its edged side of the bus holds.
func (n *node) edged(t testing.TB) edged.Status {
	t.Helper()
	s, err := n.askEdged()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (n *node) askEdged() (edged.Status, error) {
	var s edged.Status
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", n.socket())
	}}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://edgecore/edged")
	if err != nil {
		return s, fmt.Errorf("inspect socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("inspect socket: status %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("inspect socket: %w", err)
	}
	return s, nil
}

// waitEdged waits until edged's status satisfies cond; the socket may not
// be up yet.
func (n *node) waitEdged(t testing.TB, what string, timeout time.Duration, cond func(edged.Status) bool) edged.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s, err := n.askEdged()
		if err == nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("edged: %s not reached within %s: %+v (%v)", what, timeout, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proc is a running edgecore.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// start execs edgecore with n's config.
func (n *node) start(t testing.TB) *proc {
	t.Helper()
	return n.run(t, exec.Command(binary, n.args()...))
}

// startIsolated is start, with edgecore in a mount namespace of its own
// whose /var/lib, /var/log and /run are empty tmpfs: edged's pod
// directories (/var/lib/edgegate/pods), logs (/var/log/pods) and network
// state stay off the host and go with the process. It needs root.
func (n *node) startIsolated(t testing.TB) *proc {
	t.Helper()
	const mounts = `mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /var/log && mount -t tmpfs tmpfs /run && exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", mounts, binary}, n.args()...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // and / made private
	return n.run(t, cmd)
}

// args are edgecore's arguments for n.
func (n *node) args() []string {
	return []string{"--config", n.config, "--bootstrap-file", n.bootstrapFile(), "--inspect-socket", n.socket()}
}

// run starts cmd, an edgecore of n, and stops it when t ends, failing t
// if the race detector spoke and showing the output if t failed.
func (n *node) run(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout = lockedWriter{p}
	p.cmd.Stderr = lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if strings.Contains(p.output(), raceReport) {
			t.Errorf("the race detector found a data race in edgecore")
		}
		if t.Failed() {
			t.Logf("edgecore %s output:\n%s", n.name, p.output())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("edgecore did not stop within 20 s of SIGTERM")
	}
}

// waitLog waits until edgecore's output contains s.
func (p *proc) waitLog(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("edgecore did not log %q within %s", s, timeout)
		}
		if !p.running() {
			t.Fatalf("edgecore exited (%v) before logging %q", p.err, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitCloud(t testing.TB, c *testcloud.Cloud, what string, timeout time.Duration, cond func(v *testcloud.View) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Wait(ctx, what, cond); err != nil {
		t.Fatal(err)
	}
}

func token(t testing.TB, c *testcloud.Cloud, ttl time.Duration) string {
	t.Helper()
	tok, err := c.Token(ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustJSON(t testing.TB, m *model.Message) []byte {
	t.Helper()
	b, err := model.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// podRows returns the stored pods of a stopped edgecore: key → JSON.
func (n *node) podRows(t testing.TB) map[string]string {
	t.Helper()
	db, err := dbm.Open(n.db, dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := metamanager.NewStore(db)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := store.ListByType(model.ResourceTypePod)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Key] = r.Value
	}
	return out
}

// rootDirectoryLine is the config line of modules.edged.rootDirectory,
// "" for the default.
func rootDirectoryLine(dir string) string {
	if dir == "" {
		return ""
	}
	return "\n    rootDirectory: " + dir
}
