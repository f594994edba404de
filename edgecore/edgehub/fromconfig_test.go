package edgehub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
)

// keadmJoinConfig is what `keadm join --cloudcore-ipport=10.0.0.1:10000
// --token=... --edgenode-name=pi-1` leaves in edgecore.yaml (abridged).
const keadmJoinConfig = `apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
modules:
  edged:
    hostnameOverride: pi-1
  edgeHub:
    enable: true
    httpServer: https://10.0.0.1:10002
    # written by keadm join
    token: 0123abcd.eyJh.sig
    websocket:
      enable: true
      server: 10.0.0.1:10000
`

func TestFromConfigKeadmJoinFields(t *testing.T) {
	cfg, err := config.Parse([]byte(keadmJoinConfig))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"server":     {got.Server, "10.0.0.1:10000"},
		"httpServer": {got.HTTPServer, "https://10.0.0.1:10002"},
		"token":      {got.Token, "0123abcd.eyJh.sig"},
		"node":       {got.NodeName, "pi-1"},
		"projectID":  {got.ProjectID, DefaultProjectID},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
	if got.Heartbeat != 15*time.Second || got.MessageQPS != 30 || got.MessageBurst != 60 || !got.RotateCertificates ||
		got.ReadDeadline != 15*time.Second || got.WriteDeadline != 15*time.Second || got.MaxMessage != 8<<20 {
		t.Errorf("defaults not carried: %+v", got)
	}
}

func TestFromConfigLinkSettings(t *testing.T) {
	doc := keadmJoinConfig + "      readDeadline: 40\n      writeDeadline: 20\n      maxMessageSize: 2097152\n"
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReadDeadline != 40*time.Second || got.WriteDeadline != 20*time.Second || got.MaxMessage != 2<<20 {
		t.Fatalf("readDeadline %s, writeDeadline %s, maxMessageSize %d; want 40s, 20s, 2 MiB", got.ReadDeadline, got.WriteDeadline, got.MaxMessage)
	}
}

func TestFromConfigRejectsQUIC(t *testing.T) {
	cfg, err := config.Parse([]byte(keadmJoinConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Modules.EdgeHub.WebSocket.Enable = false
	cfg.Modules.EdgeHub.Quic = &config.Transport{Enable: true, Server: "10.0.0.1:10001"}
	if _, err := FromConfig(cfg); err == nil || !strings.Contains(err.Error(), "QUIC is not supported") {
		t.Fatalf("err = %v", err)
	}
}

func TestClearToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.yaml")
	if err := os.WriteFile(path, []byte(keadmJoinConfig), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := ClearToken(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "eyJh") {
		t.Fatalf("token still in file:\n%s", data)
	}
	if !strings.Contains(string(data), "# written by keadm join") {
		t.Errorf("comment lost:\n%s", data)
	}
	cfg, err := config.Parse(data)
	if err != nil || cfg.Modules.EdgeHub.Token != "" || cfg.Modules.EdgeHub.WebSocket.Server != "10.0.0.1:10000" {
		t.Fatalf("rewritten file: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	if err := ClearToken(path); err != nil {
		t.Fatalf("second clear: %v", err)
	}
}

func TestClearTokenFlowStyleFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.yaml")
	doc := "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\nmodules: {edgeHub: {enable: true, token: \"a.b.c\", websocket: {enable: true, server: \"10.0.0.1:10000\"}}}\n"
	os.WriteFile(path, []byte(doc), 0o600)
	if err := ClearToken(path); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil || cfg.Modules.EdgeHub.Token != "" {
		t.Fatalf("after clear: %v, token %q", err, cfg.Modules.EdgeHub.Token)
	}
}
