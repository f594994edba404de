// Package flood checks edgecore against a cloud that sends more than it
// can take: the real binary flooded over the real websocket link with the
// worst frames the link accepts (its memory must stay bounded and the link
// usable), and the real edgehub beside a module that stops reading (the
// link must keep going).
//
// edgecore is built here without the race detector, unlike the e2e suite:
// the race runtime's shadow memory would make the resident-set figures
// meaningless. Races under load are the e2e suite's to find.
package flood

import (
	"bufio"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
)

// binary is the edgecore under test: built once for the package, or the
// one EDGEGATE_FLOOD_BINARY names (to measure another build, such as a
// release's).
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the binary's test skips under -short
	}
	if binary = os.Getenv("EDGEGATE_FLOOD_BINARY"); binary != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "edgecore-flood")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "edgecore")
	build := exec.Command("go", "build", "-trimpath", "-tags", image.BuildTags, "-ldflags=-s -w", "-o", binary, "github.com/edgegate/edgegate/cmd/edgecore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build edgecore:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one edge node's files and its running edgecore.
type node struct {
	name string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}

	mu  sync.Mutex
	out bytes.Buffer
}

// startNode writes the configuration keadm join would leave (edged off:
// this host has no containerd) and starts edgecore with it.
func startNode(t *testing.T, cloud *testcloud.Cloud, name string) *node {
	t.Helper()
	tok, err := cloud.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, dir: t.TempDir(), done: make(chan struct{})}
	cfg := fmt.Sprintf(`apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database:
  dataSource: %[1]s/edgecore.db
modules:
  edged:
    enable: false
    hostnameOverride: %[2]s
  edgeHub:
    enable: true
    heartbeat: 1
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
`, n.dir, name, cloud.HTTPServer(), tok, cloud.WSServer())
	config := filepath.Join(n.dir, "edgecore.yaml")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(binary, "--config", config, "--bootstrap-file", filepath.Join(n.dir, "bootstrap-edgecore.conf"), "--inspect-socket", n.socket())
	n.cmd.Stdout, n.cmd.Stderr = writerFunc(n.write), writerFunc(n.write)
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			t.Logf("edgecore output:\n%s", n.output())
		}
	})
	return n
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (n *node) write(b []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.Write(b)
}

func (n *node) output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

func (n *node) socket() string { return filepath.Join(n.dir, "inspect.sock") }

func (n *node) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// stop ends edgecore with SIGTERM, as init does.
func (n *node) stop(t *testing.T) {
	t.Helper()
	if !n.running() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
		t.Errorf("edgecore did not stop within 20 s of SIGTERM")
	}
}

// memory reads the kB fields of /proc/<pid>/status (VmHWM is the peak
// resident set since exec).
func (n *node) memory(t *testing.T) map[string]int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if fs := strings.Fields(v); ok && len(fs) == 2 && fs[1] == "kB" {
			kb, _ := strconv.ParseInt(fs[0], 10, 64)
			out[k] = kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// busStatus asks edgecore's inspection socket for its bus counters.
func (n *node) busStatus(t *testing.T) busStatus {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", n.socket())
	}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://edgecore/bus")
	if err != nil {
		t.Fatalf("inspect socket: %v", err)
	}
	defer resp.Body.Close()
	var s busStatus
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("inspect socket /bus: %v", err)
	}
	return s
}

type busStatus struct {
	Shed   uint64 `json:"shed"`
	Queues map[string]struct {
		Messages int   `json:"messages"`
		Bytes    int64 `json:"bytes"`
	} `json:"queues"`
}

func waitCloud(t *testing.T, c *testcloud.Cloud, what string, timeout time.Duration, cond func(v *testcloud.View) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Wait(ctx, what, cond); err != nil {
		t.Fatal(err)
	}
}
