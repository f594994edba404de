package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
)

// TestHealthzOnInspectSocket runs edgecore as init does and asks its
// inspect socket what init's health check asks: GET /healthz answers 200
// once the modules run, with each module's state.
func TestHealthzOnInspectSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "inspect.sock")
	path := writeConfig(t, dir, func(c *config.EdgeCoreConfig) { c.Modules.Edged.Enable = false })
	cmd, sc, all, exit := child(t, "--config", path, "--inspect-socket", sock)
	waitLine(t, sc, "inspect socket listening")
	go func() { // keep the child's log flowing
		for sc.Scan() {
		}
	}()

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	var code int
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for code != http.StatusOK && time.Now().Before(deadline) {
		resp, err := client.Get("http://edgecore/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code, body = resp.StatusCode, string(b)
		time.Sleep(10 * time.Millisecond)
	}
	if code != http.StatusOK || !strings.Contains(body, `"metamanager":"running"`) || strings.Contains(body, "edged") {
		t.Fatalf("GET /healthz = %d %q, want 200 with metamanager running (edged disabled, not listed)", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-exit; c != 0 {
		t.Fatalf("exit %d:\n%s", c, all.String())
	}
}
