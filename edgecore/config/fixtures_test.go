package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fixtures are edgecore.yaml files as `keadm join` of KubeEdge v1.21,
// v1.22 and v1.23 writes them (KUBEEDGE.md §10 fields plus the rest of the
// v1alpha2 schema).
func TestKeadmJoinFilesLoad(t *testing.T) {
	tests := []struct {
		file, node, server, token, version string
		gates                              map[string]bool
	}{
		{"keadm-join-v1.21.yaml", "edge-pi-01", "192.168.1.10:10000", "3a1f0c6d", "", nil},
		{"keadm-join-v1.22.yaml", "edge-rpi4-b", "10.20.0.5:10000", "", "", map[string]bool{"ModuleRestart": false}},
		{"keadm-join-v1.23.yaml", "edge-cm4-07", "cloudcore.example.net:10000", "", "v1.23.0",
			map[string]bool{"ModuleRestart": true, "RequireAuthorization": false}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			h := cfg.Modules.EdgeHub
			if cfg.NodeName() != tt.node || h.WebSocket.Server != tt.server || !strings.HasPrefix(h.Token, tt.token) ||
				(tt.token == "" && h.Token != "") || cfg.EdgeCoreVersion != tt.version {
				t.Fatalf("node %q server %q token %q version %q", cfg.NodeName(), h.WebSocket.Server, h.Token, cfg.EdgeCoreVersion)
			}
			if cfg.Database.DriverName != "sqlite3" || cfg.Database.DataSource != DefaultDataSource {
				t.Errorf("database %+v", cfg.Database)
			}
			for k, v := range tt.gates {
				if got, ok := cfg.FeatureGates[k]; !ok || got != v {
					t.Errorf("featureGates[%s] = %v, %v", k, got, ok)
				}
			}
			if cfg.Modules.Edged.TailoredKubeletConfig["staticPodPath"] != "/etc/kubeedge/manifests" ||
				cfg.Modules.Edged.TailoredKubeletFlag.NodeLabels["node-role.kubernetes.io/edge"] != "" ||
				cfg.Modules.Edged.TailoredKubeletFlag.PodSandboxImage != "kubeedge/pause:3.6" {
				t.Errorf("edged section not kept: %+v", cfg.Modules.Edged)
			}
			for _, want := range []string{
				"modules.edged.tailoredKubeletFlag.maxContainerCount", "modules.edged.tailoredKubeletFlag.registerSchedulable",
				"modules.eventBus.mqttUsername", "modules.metaManager.metaServer.tlsCaFile",
				"modules.metaManager.metaServer.apiAudiences", "modules.edgeStream.tlsTunnelCAFile",
			} {
				if !slices.Contains(cfg.IgnoredFields, want) {
					t.Errorf("IgnoredFields lacks %s: %v", want, cfg.IgnoredFields)
				}
			}
			if slices.Contains(cfg.IgnoredFields, "modules.edgeHub.heartbeat") {
				t.Errorf("a field edgegate uses is listed as ignored")
			}
		})
	}
}

// A typo is rejected even in a full keadm file, naming the field and, when
// it is close to one, the field meant.
func TestTyposInKeadmFileRejected(t *testing.T) {
	orig, err := os.ReadFile("testdata/keadm-join-v1.21.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, path, suggestion string
	}{
		{"used field", "    heartbeat: 15\n", "    heartbeet: 15\n", "modules.edgeHub.heartbeet", "heartbeat"},
		{"case", "  edgeHub:\n", "  edgehub:\n", "modules.edgehub", "edgeHub"},
		{"kubeedge-only field", "      maxContainerCount: -1\n", "      maxContainerCont: -1\n",
			"modules.edged.tailoredKubeletFlag.maxContainerCont", "maxContainerCount"},
		{"nested used field", "      readDeadline: 15\n      server: 192.168.1.10:10000\n", "      readDeadline: 15\n      sever: 192.168.1.10:10000\n",
			"modules.edgeHub.websocket.sever", "server"},
		{"no near name", "  dbTest:\n", "  telemetry:\n", "modules.telemetry", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(orig), tt.from, tt.to, 1)
			if doc == string(orig) {
				t.Fatalf("fixture lacks %q", tt.from)
			}
			_, err := Parse([]byte(doc))
			var ufe *UnknownFieldError
			if !errors.As(err, &ufe) {
				t.Fatalf("err = %v, want an unknown field", err)
			}
			if ufe.Path != tt.path || ufe.Suggestion != tt.suggestion {
				t.Fatalf("got %s (suggest %q), want %s (suggest %q)", ufe.Path, ufe.Suggestion, tt.path, tt.suggestion)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("error %q does not name %s", err, tt.path)
			}
		})
	}
}

// Validation still names field and value in a full file.
func TestKeadmFileBadValueNamed(t *testing.T) {
	orig, err := os.ReadFile("testdata/keadm-join-v1.22.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(orig), "httpServer: https://10.20.0.5:10002", "httpServer: 10.20.0.5:10002", 1)
	_, err = Parse([]byte(doc))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "modules.edgeHub.httpServer" || fe.Value != "10.20.0.5:10002" {
		t.Fatalf("err = %v", err)
	}
}

func TestSetFieldsKeepsWhatItDoesNotModel(t *testing.T) {
	orig, err := os.ReadFile("testdata/keadm-join-v1.21.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "edgecore.yaml")
	doc := "# written by keadm join\n" + string(orig)
	if err := os.WriteFile(path, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	before, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetFields(path, map[string]string{"modules.edgeHub.token": "", "edgecoreVersion": "v0.3.0"}); err != nil {
		t.Fatal(err)
	}
	after, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Modules.EdgeHub.Token != "" || after.EdgeCoreVersion != "v0.3.0" {
		t.Fatalf("token %q version %q", after.Modules.EdgeHub.Token, after.EdgeCoreVersion)
	}
	if !slices.Equal(after.IgnoredFields, before.IgnoredFields) {
		t.Fatalf("ignored fields changed:\n%v\n%v", before.IgnoredFields, after.IgnoredFields)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# written by keadm join", "maxContainerCount: -1", "mqttUsername: \"\"", "staticPodPath: /etc/kubeedge/manifests"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("edited file lost %q", want)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	// Setting what is already there leaves the file alone.
	st1, _ := os.Stat(path)
	if err := SetFields(path, map[string]string{"edgecoreVersion": "v0.3.0"}); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st1.ModTime()) || !os.SameFile(st1, st2) {
		t.Errorf("unchanged value rewrote the file")
	}
}

func TestSetFieldsRefusesWhatWouldNotLoad(t *testing.T) {
	tests := []struct {
		name, doc string
		fields    map[string]string
		want      string
	}{
		{"invalid value", "kind: EdgeCore\napiVersion: " + APIVersion + "\n", map[string]string{"modules.edgeHub.websocket.server": "nohost"},
			`modules.edgeHub.websocket.server: invalid value "nohost"`},
		{"section", "kind: EdgeCore\napiVersion: " + APIVersion + "\nmodules:\n  edgeHub:\n    enable: true\n", map[string]string{"modules.edgeHub": "x"}, "modules.edgeHub: is a section"},
		{"through a list", "kind: EdgeCore\napiVersion: " + APIVersion + "\nmodules: [a]\n", map[string]string{"modules.edgeHub.token": ""}, "modules is a list"},
		{"not yaml", "kind: [\n", map[string]string{"edgecoreVersion": "v1"}, "edit config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgecore.yaml")
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			err := SetFields(path, tt.fields)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if data, _ := os.ReadFile(path); string(data) != tt.doc {
				t.Fatalf("file changed on error:\n%s", data)
			}
		})
	}
}

func TestApplyBootstrapFile(t *testing.T) {
	tests := []struct {
		name    string
		content *string
		applied bool
		token   string
		wantErr string
	}{
		{"missing", nil, false, "from-config", ""},
		{"empty", ptr("\n"), false, "from-config", ""},
		{"token with newline", ptr("abc.def.ghi.jkl\n"), true, "abc.def.ghi.jkl", ""},
		{"two words", ptr("abc def\n"), false, "from-config", "more than one line or word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bootstrap-edgecore.conf")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			cfg := NewDefault()
			cfg.Modules.EdgeHub.Token = "from-config"
			applied, err := cfg.ApplyBootstrapFile(path)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if applied != tt.applied || cfg.Modules.EdgeHub.Token != tt.token {
				t.Fatalf("applied %v token %q", applied, cfg.Modules.EdgeHub.Token)
			}
		})
	}
}

func ptr(s string) *string { return &s }
