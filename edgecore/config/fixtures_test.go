package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// releases are the KubeEdge releases whose configuration files
// testdata/ holds (see testdata/README.md).
var releases = []string{"v1.21.2", "v1.22.2", "v1.23.1"}

// Every file KubeEdge's tools write, for every release edgegate claims,
// loads as it is: the fields edgegate uses take the file's values, the
// KubeEdge fields it does not use are listed as ignored, nothing else.
func TestKubeEdgeFilesLoad(t *testing.T) {
	for _, rel := range releases {
		for _, file := range []string{"edgecore-default.yaml", "edgecore-min.yaml", "keadm-join.yaml"} {
			t.Run(rel+"/"+file, func(t *testing.T) {
				cfg, err := Load(filepath.Join("testdata", "kubeedge-"+rel, file))
				if err != nil {
					t.Fatal(err)
				}
				checkUpstreamFile(t, cfg, rel, file)
			})
		}
	}
}

func checkUpstreamFile(t *testing.T, cfg *EdgeCoreConfig, rel, file string) {
	t.Helper()
	h, e := cfg.Modules.EdgeHub, cfg.Modules.Edged
	if cfg.NodeName() != "edge-node-1" || h.WebSocket.Server != "192.0.2.2:10000" || h.HTTPServer != "https://192.0.2.2:10002" {
		t.Errorf("node %q, websocket %q, httpServer %q", cfg.NodeName(), h.WebSocket.Server, h.HTTPServer)
	}
	if cfg.Database.DataSource != DefaultDataSource {
		t.Errorf("database %+v", cfg.Database)
	}
	if h.TLSCAFile != "/etc/kubeedge/ca/rootCA.crt" || h.TLSCertFile != "/etc/kubeedge/certs/server.crt" {
		t.Errorf("certificate paths %q %q", h.TLSCAFile, h.TLSCertFile)
	}
	wantToken := file == "keadm-join.yaml"
	if (h.Token != "") != wantToken {
		t.Errorf("token %q (keadm join writes it, the defaults do not)", h.Token)
	}
	if file == "keadm-join.yaml" && cfg.EdgeCoreVersion != rel {
		t.Errorf("edgecoreVersion %q, want %s", cfg.EdgeCoreVersion, rel)
	}
	k := e.Kubelet()
	if e.PodSandboxImage != "kubeedge/pause:3.6" || e.RootDirectory != "/var/lib/kubelet" || e.RegisterNodeNamespace != "default" ||
		k.MaxPods != 110 || k.NodeStatusUpdateFrequency != 10*time.Second || k.NodeStatusReportFrequency != 5*time.Minute ||
		k.NodeLeaseDuration != 40*time.Second || k.EvictionHard["memory.available"] != (Threshold{Quantity: 100 << 20}) ||
		k.ContainerRuntimeEndpoint != "unix:///run/containerd/containerd.sock" ||
		k.ImageGCHighThresholdPercent != 85 || k.ImageGCLowThresholdPercent != 80 || k.ContainerLogMaxSize != 10<<20 || k.ContainerLogMaxFiles != 5 ||
		k.EventRecordQPS != 50 || k.EventBurst != 100 || e.ReportEvent || e.UpdateStatusFile != DefaultUpdateStatusFile {
		t.Errorf("edged: %+v, kubelet %+v", e.TailoredKubeletFlag, k)
	}
	if e.TailoredKubeletConfig["staticPodPath"] != "/etc/kubeedge/manifests" {
		t.Errorf("tailoredKubeletConfig not kept: %v", e.TailoredKubeletConfig)
	}
	for _, want := range []string{"modules.edged.maxContainerCount", "modules.edged.registerSchedulable", "modules.edged.minimumGCAge",
		"modules.eventBus.mqttUsername"} {
		if !slices.Contains(cfg.IgnoredFields, want) {
			t.Errorf("IgnoredFields lacks %s: %v", want, cfg.IgnoredFields)
		}
	}
	for _, used := range []string{"modules.edgeHub.heartbeat", "modules.edged.hostnameOverride", "modules.edged.nodeIP"} {
		if slices.Contains(cfg.IgnoredFields, used) {
			t.Errorf("%s, which edgegate uses, is listed as ignored", used)
		}
	}
}

// The steering fixtures (upstream v1.23.1's --defaultconfig and
// --minconfig) are read where the project keeps them, and must be what
// testdata holds.
func TestSharedFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "kubeedge-v1.23.1")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no shared fixtures beside this checkout (%v); testdata/kubeedge-v1.23.1 holds the same files", err)
	}
	for _, file := range []string{"edgecore-default.yaml", "edgecore-min.yaml"} {
		shared, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		ours, err := os.ReadFile(filepath.Join("testdata", "kubeedge-v1.23.1", file))
		if err != nil {
			t.Fatal(err)
		}
		if string(shared) != string(ours) {
			t.Errorf("%s: testdata differs from the shared fixture", file)
		}
		cfg, err := Parse(shared)
		if err != nil {
			t.Fatalf("shared %s: %v", file, err)
		}
		checkUpstreamFile(t, cfg, "v1.23.1", file)
	}
}

// edgecore's own --defaultconfig and --minconfig files load too, and keep
// their state under /var/lib/kubeedge.
func TestOwnFilesLoad(t *testing.T) {
	for name, c := range map[string]*EdgeCoreConfig{"default": NewDefault(), "min": NewMin()} {
		raw, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, raw)
		}
		for _, p := range []string{cfg.Database.DataSource, cfg.Modules.EdgeHub.TLSCAFile, cfg.Modules.EdgeHub.TLSCertFile, cfg.Modules.EdgeHub.TLSPrivateKeyFile} {
			if !strings.HasPrefix(p, DefaultStateDir+"/") {
				t.Errorf("%s: %s not under %s", name, p, DefaultStateDir)
			}
		}
	}
}

// A typo is rejected even in a full keadm file, naming the field and, when
// it is close to one, the field meant.
func TestTyposInKeadmFileRejected(t *testing.T) {
	orig, err := os.ReadFile("testdata/kubeedge-v1.21.2/keadm-join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, path, suggestion string
	}{
		{"used field", "    heartbeat: 15\n", "    heartbeet: 15\n", "modules.edgeHub.heartbeet", "heartbeat"},
		{"case", "  edgeHub:\n", "  edgehub:\n", "modules.edgehub", "edgeHub"},
		{"kubeedge-only field", "    maxContainerCount: -1\n", "    maxContainerCont: -1\n",
			"modules.edged.maxContainerCont", "maxContainerCount"},
		{"inlined used field", "    hostnameOverride: edge-node-1\n", "    hostnameOverride: edge-node-1\n    nodeIp: 10.0.0.1\n",
			"modules.edged.nodeIp", "nodeIP"},
		{"nested used field", "      readDeadline: 15\n      server: 192.0.2.2:10000\n", "      readDeadline: 15\n      sever: 192.0.2.2:10000\n",
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
	orig, err := os.ReadFile("testdata/kubeedge-v1.22.2/keadm-join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(orig), "httpServer: https://192.0.2.2:10002", "httpServer: 192.0.2.2:10002", 1)
	_, err = Parse([]byte(doc))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "modules.edgeHub.httpServer" || fe.Value != "192.0.2.2:10002" {
		t.Fatalf("err = %v", err)
	}
}

func TestSetFieldsKeepsWhatItDoesNotModel(t *testing.T) {
	orig, err := os.ReadFile("testdata/kubeedge-v1.21.2/edgecore-default.yaml")
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
