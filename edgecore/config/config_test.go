package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDefaultRoundTrips(t *testing.T) {
	for name, cfg := range map[string]*EdgeCoreConfig{"default": NewDefault(), "min": NewMin()} {
		t.Run(name, func(t *testing.T) {
			out, err := Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("printed %s config does not load: %v\n%s", name, err, out)
			}
			if name == "default" && !reflect.DeepEqual(normalize(t, back), normalize(t, cfg)) {
				t.Fatalf("default config changed in a round trip")
			}
			if back.Database.DataSource != DefaultDataSource || back.Modules.MetaManager.ContextSendModule != "websocket" {
				t.Fatalf("defaults missing after load: %+v", back.Database)
			}
		})
	}
}

// normalize passes cfg through YAML once so numbers in free-form maps have
// the same Go types on both sides.
func normalize(t *testing.T, cfg *EdgeCoreConfig) *EdgeCoreConfig {
	out, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &EdgeCoreConfig{}
	if err := unmarshalForTest(out, n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDefaultsMatchKubeEdge(t *testing.T) {
	out, err := Marshal(NewDefault())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"apiVersion: edgecore.config.kubeedge.io/v1alpha2", "kind: EdgeCore",
		"dataSource: /var/lib/kubeedge/edgecore.db", "heartbeat: 15", "messageQPS: 30", "messageBurst: 60",
		"projectID: e632aba927ea4ac2b575ec1603d56f10", "server: 127.0.0.1:10000", "contextSendGroup: hub",
		"contextSendModule: websocket", "remoteQueryTimeout: 60", "mqttMode: 2", "port: 9060",
		"tlsCaFile: /var/lib/kubeedge/ca/rootCA.crt", "httpServer: https://127.0.0.1:10002",
		"maxPods: 110", "nodeStatusReportFrequency: 5m0s", "nodeLeaseDurationSeconds: 40", "memory.available: 100Mi",
		"reportEvent: false", "eventRecordQPS: 50", "eventBurst: 100",
		"updateStatusFile: /var/lib/edgegate/update/status.json",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("default config lacks %q", want)
		}
	}
}

func TestLoadKeepsDefaultsForMissingFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.yaml")
	doc := `apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database:
  dataSource: /data/edge.db
modules:
  edged:
    hostnameOverride: edge-1
    tailoredKubeletConfig:
      cgroupDriver: systemd
  edgeHub:
    websocket:
      server: cloud.example:10000
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.DataSource != "/data/edge.db" || cfg.NodeName() != "edge-1" ||
		cfg.Modules.EdgeHub.WebSocket.Server != "cloud.example:10000" || cfg.Modules.EdgeHub.WebSocket.HandshakeTimeout != 30 ||
		cfg.Modules.EdgeHub.Heartbeat != 15 || !cfg.Modules.MetaManager.Enable || cfg.Database.DriverName != "bbolt" {
		t.Fatalf("loaded %+v %+v", cfg.Database, cfg.Modules.EdgeHub.WebSocket)
	}
	if cfg.Modules.Edged.TailoredKubeletConfig["cgroupDriver"] != "systemd" {
		t.Fatal("free-form kubelet config not kept")
	}
}

// modules.edged.updateStatusFile is edgegate's own: a file without it
// (every file KubeEdge's tools write) reads the default path; a path set
// is kept, and an empty one turns the EdgegateUpdate condition off.
func TestUpdateStatusFile(t *testing.T) {
	head := "kind: EdgeCore\napiVersion: " + APIVersion + "\nmodules:\n  edged:\n    hostnameOverride: edge-1\n"
	for _, tt := range []struct{ name, line, want string }{
		{"left out", "", DefaultUpdateStatusFile},
		{"set", "    updateStatusFile: /data/update/status.json\n", "/data/update/status.json"},
		{"empty", "    updateStatusFile: \"\"\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(head + tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Modules.Edged.UpdateStatusFile; got != tt.want {
				t.Fatalf("updateStatusFile %q, want %q", got, tt.want)
			}
			if slices.Contains(cfg.IgnoredFields, "modules.edged.updateStatusFile") {
				t.Fatalf("updateStatusFile listed as ignored: %v", cfg.IgnoredFields)
			}
		})
	}
}

func TestBadConfigNamesFieldAndValue(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown field", "kind: EdgeCore\napiVersion: edgecore.config.kubeedge.io/v1alpha2\nmodules:\n  edgeHub:\n    heartbeet: 3\n", []string{`unknown field "heartbeet"`}},
		{"wrong type", "modules:\n  edgeHub:\n    heartbeat: often\n", []string{"heartbeat"}},
		{"duplicate key", "kind: EdgeCore\nkind: EdgeCore\n", []string{"kind"}},
		{"not yaml", "\t:::", []string{"decode"}},
		{"bad kind", "kind: Pod\n", []string{`kind: invalid value "Pod"`}},
		{"bad heartbeat", "modules:\n  edgeHub:\n    heartbeat: -1\n", []string{`modules.edgeHub.heartbeat: invalid value "-1"`}},
		{"bad server", "modules:\n  edgeHub:\n    websocket:\n      server: nohost\n", []string{`modules.edgeHub.websocket.server: invalid value "nohost"`}},
		{"frame limit too small", "modules:\n  edgeHub:\n    websocket:\n      maxMessageSize: 1000\n", []string{
			`modules.edgeHub.websocket.maxMessageSize: invalid value "1000": must be 65536 (64 KiB) to 67108864 (64 MiB) bytes`}},
		{"frame limit too large", "modules:\n  edgeHub:\n    websocket:\n      maxMessageSize: 1073741824\n", []string{
			`modules.edgeHub.websocket.maxMessageSize: invalid value "1073741824"`}},
		{"frame limit not a number", "modules:\n  edgeHub:\n    websocket:\n      maxMessageSize: 8Mi\n", []string{"maxMessageSize"}},
		{"quic", "modules:\n  edgeHub:\n    quic:\n      enable: true\n", []string{`modules.edgeHub.quic.enable: invalid value "true"`}},
		{"relative db", "database:\n  dataSource: edge.db\n", []string{`database.dataSource: invalid value "edge.db": must be an absolute file path`}},
		{"driver", "database:\n  driverName: mysql\n", []string{`database.driverName: invalid value "mysql"`}},
		{"node name", "modules:\n  edged:\n    hostnameOverride: Edge_1\n", []string{`modules.edged.hostnameOverride: invalid value "Edge_1"`}},
		{"nested kubelet flags", "modules:\n  edged:\n    tailoredKubeletFlag:\n      hostnameOverride: edge-1\n", []string{
			`modules.edged.tailoredKubeletFlag: unknown field`, "sit directly under modules.edged"}},
		{"node IP", "modules:\n  edged:\n    nodeIP: 10.0.0.300\n", []string{`modules.edged.nodeIP: invalid value "10.0.0.300"`}},
		{"update status file", "modules:\n  edged:\n    updateStatusFile: update/status.json\n", []string{
			`modules.edged.updateStatusFile: invalid value "update/status.json": must be an absolute file path`}},
		{"update status file type", "modules:\n  edged:\n    updateStatusFile: [a, b]\n", []string{"updateStatusFile"}},
		{"status frequency", "modules:\n  edged:\n    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: often\n", []string{
			`modules.edged.tailoredKubeletConfig.nodeStatusUpdateFrequency: invalid value "often"`}},
		{"lease duration", "modules:\n  edged:\n    tailoredKubeletConfig:\n      nodeLeaseDurationSeconds: 2.5\n", []string{
			`modules.edged.tailoredKubeletConfig.nodeLeaseDurationSeconds: invalid value "2.5"`}},
		{"max pods", "modules:\n  edged:\n    tailoredKubeletConfig:\n      maxPods: -3\n", []string{
			`modules.edged.tailoredKubeletConfig.maxPods: invalid value "-3"`}},
		{"eviction threshold", "modules:\n  edged:\n    tailoredKubeletConfig:\n      evictionHard:\n        memory.available: lots\n", []string{
			`modules.edged.tailoredKubeletConfig.evictionHard.memory.available: invalid value "lots"`}},
		{"runtime endpoint", "modules:\n  edged:\n    tailoredKubeletConfig:\n      containerRuntimeEndpoint: tcp://1.2.3.4:1\n", []string{
			`modules.edged.tailoredKubeletConfig.containerRuntimeEndpoint: invalid value "tcp://1.2.3.4:1"`}},
		{"image gc percent", "modules:\n  edged:\n    tailoredKubeletConfig:\n      imageGCHighThresholdPercent: 120\n", []string{
			`modules.edged.tailoredKubeletConfig.imageGCHighThresholdPercent: invalid value "120"`}},
		{"image gc low above high", "modules:\n  edged:\n    tailoredKubeletConfig:\n      imageGCHighThresholdPercent: 50\n      imageGCLowThresholdPercent: 60\n", []string{
			`modules.edged.tailoredKubeletConfig.imageGCLowThresholdPercent: invalid value "60"`}},
		{"log size", "modules:\n  edged:\n    tailoredKubeletConfig:\n      containerLogMaxSize: big\n", []string{
			`modules.edged.tailoredKubeletConfig.containerLogMaxSize: invalid value "big"`}},
		{"log files", "modules:\n  edged:\n    tailoredKubeletConfig:\n      containerLogMaxFiles: 1\n", []string{
			`modules.edged.tailoredKubeletConfig.containerLogMaxFiles: invalid value "1"`}},
		{"event rate", "modules:\n  edged:\n    tailoredKubeletConfig:\n      eventRecordQPS: -1\n", []string{
			`modules.edged.tailoredKubeletConfig.eventRecordQPS: invalid value "-1"`}},
		{"event burst", "modules:\n  edged:\n    tailoredKubeletConfig:\n      eventBurst: 2.5\n", []string{
			`modules.edged.tailoredKubeletConfig.eventBurst: invalid value "2.5"`}},
		{"two errors at once", "modules:\n  eventBus:\n    mqttMode: 7\n  serviceBus:\n    port: 70000\n", []string{
			`modules.eventBus.mqttMode: invalid value "7"`, `modules.serviceBus.port: invalid value "70000"`}},
		{"http server", "modules:\n  edgeHub:\n    httpServer: http://x:10002\n", []string{`modules.edgeHub.httpServer: invalid value "http://x:10002"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc
			if !strings.Contains(doc, "kind:") {
				doc = "kind: EdgeCore\napiVersion: " + APIVersion + "\n" + doc
			}
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFieldErrorsAreTyped(t *testing.T) {
	_, err := Parse([]byte("kind: EdgeCore\napiVersion: " + APIVersion + "\nmodules:\n  metaManager:\n    remoteQueryTimeout: -5\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "modules.metaManager.remoteQueryTimeout" {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

// Thresholds parse as the kubelet reads them and print as they read back.
func TestParseThreshold(t *testing.T) {
	tests := []struct {
		in      string
		of1000  int64
		wantErr bool
	}{
		{"100Mi", 100 << 20, false},
		{"10%", 100, false},
		{"0.5%", 5, false},
		{"1G", 1e9, false},
		{"0%", 0, true},
		{"101%", 0, true},
		{"ten", 0, true},
		{"%", 0, true},
		{"-1Mi", 0, true},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if err == nil && th.Of(1000) != tt.of1000 {
			t.Errorf("%q of 1000 = %d, want %d", tt.in, th.Of(1000), tt.of1000)
		}
		if back, perr := ParseThreshold(th.String()); err == nil && (perr != nil || back != th) {
			t.Errorf("%q prints as %q, which reads back as %+v (%v)", tt.in, th.String(), back, perr)
		}
	}
}
