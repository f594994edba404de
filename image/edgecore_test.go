package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	edgecoreconfig "github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/image/initramfs"
)

// TestDefaultEdgecoreConfig: the appliance's default passes edgecore's own
// validation and the build's, keeps all state on /var, leaves edgehub off
// and lets the device's host name name the node.
func TestDefaultEdgecoreConfig(t *testing.T) {
	raw, err := DefaultEdgecoreConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckEdgecoreConfig(raw); err != nil {
		t.Fatalf("default does not pass the build's check: %v\n%s", err, raw)
	}
	c, err := edgecoreconfig.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Modules.EdgeHub
	for field, p := range map[string]string{
		"database.dataSource": c.Database.DataSource, "tlsCaFile": h.TLSCAFile,
		"tlsCertFile": h.TLSCertFile, "tlsPrivateKeyFile": h.TLSPrivateKeyFile,
	} {
		if !strings.HasPrefix(p, edgecoreStateDir+"/") {
			t.Errorf("%s = %s, want under %s", field, p, edgecoreStateDir)
		}
	}
	if h.Enable {
		t.Error("edgehub enabled without a configured cloud")
	}
	if !c.Modules.MetaManager.Enable {
		t.Error("metamanager disabled: edgecore would refuse to start with no module")
	}
	if strings.Contains(string(raw), "hostnameOverride") {
		t.Errorf("default carries the build host's name as node name:\n%s", raw)
	}
}

// TestCheckEdgecoreConfig: each bad file is refused naming the field.
func TestCheckEdgecoreConfig(t *testing.T) {
	const head = "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
	hub := func(extra string) string {
		return head + "modules:\n  edgeHub:\n    enable: true\n    tlsCaFile: /var/lib/kubeedge/ca.crt\n    tlsCertFile: /var/lib/kubeedge/c.crt\n    tlsPrivateKeyFile: /var/lib/kubeedge/c.key\n" + extra
	}
	tests := []struct {
		name, raw, want string
	}{
		{"edgehub off", head + "modules:\n  edgeHub:\n    enable: false\n", ""},
		{"edgecore's defaults keep certificates on /var", head, ""},
		{"KubeEdge's /etc/kubeedge certificate paths lead to /var", head + "modules:\n  edgeHub:\n    enable: true\n    tlsCaFile: /etc/kubeedge/ca/rootCA.crt\n    tlsCertFile: /etc/kubeedge/certs/server.crt\n    tlsPrivateKeyFile: /etc/kubeedge/certs/server.key\n", ""},
		{"other /etc paths are RAM", head + "modules:\n  edgeHub:\n    enable: true\n    tlsCertFile: /etc/kubeedge/server.crt\n", "modules.edgeHub.tlsCertFile"},
		{"a link name is not a file", head + "modules:\n  edgeHub:\n    enable: true\n    tlsCertFile: /etc/kubeedge/certs\n", "modules.edgeHub.tlsCertFile"},
		{"cloud on /var", hub("    websocket:\n      server: cloud.example:10000\n"), ""},
		{"store in RAM", head + "database:\n  dataSource: /etc/kubeedge/edgecore.db\n", "database.dataSource"},
		{"store climbing out of /var", head + "database:\n  dataSource: /var/../etc/edgecore.db\n", "database.dataSource"},
		{"escaping a link", head + "modules:\n  edgeHub:\n    enable: true\n    tlsCertFile: /etc/kubeedge/certs/../x.crt\n", "modules.edgeHub.tlsCertFile"},
		{"bad websocket server", hub("    websocket:\n      server: nowhere\n"), "modules.edgeHub.websocket.server"},
		{"unknown field", head + "modules:\n  metaManager:\n    enabel: true\n", "modules.metaManager.enabel"},
		{"wrong kind", "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: Edge\n", "kind"},
		{"not YAML", "{", "edgecore config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckEdgecoreConfig([]byte(tt.raw))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want an error naming %s", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestDefaultConfigEdgecoreService(t *testing.T) {
	for _, tt := range []struct {
		containerd, edgecore bool
		want                 string // service names, each with its dependencies
	}{
		{false, false, ""},
		{true, false, "containerd[]"},
		{false, true, "edgecore[]"},
		{true, true, "containerd[] edgecore[containerd]"},
	} {
		o := Options{Board: boards.QEMUArm64(), Containerd: tt.containerd, Edgecore: tt.edgecore}
		raw, err := o.defaultConfig()
		if err != nil {
			t.Fatal(err)
		}
		c, err := CheckConfig(raw)
		if err != nil {
			t.Fatalf("%+v: default config does not validate: %v\n%s", tt, err, raw)
		}
		var got []string
		for _, s := range c.Services {
			got = append(got, s.Name+"["+strings.Join(s.DependsOn, ",")+"]")
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("containerd=%v edgecore=%v: services %q, want %q", tt.containerd, tt.edgecore, g, tt.want)
		}
	}
}

// TestAddEdgecore compiles edgecore for armv7 into an initramfs: the
// binary and configuration are there and the default config's service
// passes the check that its executable is in the image.
func TestAddEdgecore(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles edgecore")
	}
	arc := initramfs.New()
	o := Options{Board: boards.QEMUArmv7(), Version: "t1", Edgecore: true, Progress: t.Logf}
	if err := o.addEdgecore(t.Context(), arc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{edgecoreBin, edgecoreConfigPath, "/etc/kubeedge/ca", "/etc/kubeedge/certs"} {
		if !arc.Has(p) {
			t.Errorf("%s missing from the initramfs", p)
		}
	}
	if err := o.addSystemFiles(arc); err != nil {
		t.Errorf("system files with edgecore: %v", err)
	}
	bad := Options{Board: o.Board, Edgecore: true, EdgecoreConfig: []byte("kind: Edge\n")}
	if err := bad.addEdgecore(t.Context(), initramfs.New()); err == nil || !strings.Contains(err.Error(), "kind: invalid value \"Edge\"") {
		t.Errorf("a bad configuration: %v, want refused naming kind", err)
	}
	if empty := initramfs.New(); (Options{Board: o.Board}).addEdgecore(t.Context(), empty) != nil || empty.Has(edgecoreBin) {
		t.Error("Edgecore false must add nothing")
	}
}

// TestUpstreamAndOwnEdgecoreConfigsBuild: what KubeEdge v1.21–v1.23 write
// (--defaultconfig, --minconfig, keadm join) and what edgecore's own
// --defaultconfig and --minconfig print build as they are: KubeEdge's
// /etc/kubeedge certificate paths lead to the data partition.
func TestUpstreamAndOwnEdgecoreConfigsBuild(t *testing.T) {
	files, err := filepath.Glob("../edgecore/config/testdata/kubeedge-*/*.yaml")
	if err != nil || len(files) != 9 {
		t.Fatalf("upstream files %v (%v), want 3 releases × 3", files, err)
	}
	configs := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		configs[f] = raw
	}
	for name, c := range map[string]*edgecoreconfig.EdgeCoreConfig{"edgecore --defaultconfig": edgecoreconfig.NewDefault(), "edgecore --minconfig": edgecoreconfig.NewMin()} {
		raw, err := edgecoreconfig.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		configs[name] = raw
	}
	for name, raw := range configs {
		if err := CheckEdgecoreConfig(raw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
