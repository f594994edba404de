package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	edgecoreconfig "github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/jointoken"
	"github.com/edgegate/edgegate/init/rootfs"
)

var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// testToken has the form of `keadm gettoken`'s output, expiring at exp.
func testToken(exp time.Time) string {
	return strings.Repeat("0a", 32) + "." + seg(`{"alg":"HS256","typ":"JWT"}`) + "." +
		seg(`{"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`) + "." + seg("signature")
}

// joinConfig is the README's join example with token tok.
func joinConfig(tok string) []byte {
	return []byte(`# the cloud
apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
modules:
  edged:
    hostnameOverride: gw-17
  edgeHub:
    enable: true
    httpServer: https://10.0.2.2:10002
    token: ` + tok + ` # from keadm gettoken
    websocket:
      enable: true
      server: 10.0.2.2:10000
`)
}

// TestJoinTokenLeavesTheConfiguration: the token is taken out of the
// configuration the initramfs carries (comments and the other fields
// kept) and put on the boot partition instead; without a token nothing
// changes and the boot partition holds no token file.
func TestJoinTokenLeavesTheConfiguration(t *testing.T) {
	tok := testToken(farFuture)
	raw := joinConfig(tok)
	stripped, err := withoutToken(raw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stripped, []byte(tok[70:])) {
		t.Fatalf("token still in the configuration:\n%s", stripped)
	}
	c, err := edgecoreconfig.Parse(stripped)
	if err != nil {
		t.Fatal(err)
	}
	if c.Modules.EdgeHub.Token != "" || c.Modules.EdgeHub.HTTPServer != "https://10.0.2.2:10002" || c.NodeName() != "gw-17" {
		t.Fatalf("configuration after taking the token out: token %q, httpServer %q, node %q", c.Modules.EdgeHub.Token, c.Modules.EdgeHub.HTTPServer, c.NodeName())
	}
	if !bytes.Contains(stripped, []byte("# the cloud")) {
		t.Errorf("comments lost:\n%s", stripped)
	}
	for _, tt := range []struct {
		name      string
		edgecore  bool
		config    []byte
		wantToken string
	}{
		{"token", true, raw, tok + "\n"},
		{"no token", true, joinConfig(""), ""},
		{"default configuration", true, nil, ""},
		{"no edgecore", false, raw, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Board: boards.QEMUArm64(), Edgecore: tt.edgecore, EdgecoreConfig: tt.config}
			token, err := o.joinToken()
			if err != nil || string(token) != tt.wantToken {
				t.Fatalf("joinToken = %q, %v; want %q", token, err, tt.wantToken)
			}
			spec, err := o.diskSpec(slotFiles{kernel: []byte("kernel"), initrd: []byte("initrd"), root: []byte("root")}, token)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := spec.Partitions[0].FAT.Files[jointoken.BootFile]
			if ok != (tt.wantToken != "") || string(got) != tt.wantToken {
				t.Fatalf("boot partition %s = %q (present %v), want %q", jointoken.BootFile, got, ok, tt.wantToken)
			}
			for i, p := range spec.Partitions[1:] {
				if p.FAT != nil {
					if _, ok := p.FAT.Files[jointoken.BootFile]; ok {
						t.Errorf("partition %d holds the token", i+2)
					}
				}
			}
		})
	}
	if noTok, err := withoutToken(joinConfig("")); err != nil || !bytes.Equal(noTok, joinConfig("")) {
		t.Errorf("a configuration without a token changed: %v\n%s", err, noTok)
	}
}

// TestBuildWithJoinToken builds a whole image with a join token: the image
// file is 0600 from the moment it has its name, the boot partition holds
// the token, and nothing in slot A does: not the initramfs, not a file of
// the root image (whose edgecore.yaml has an empty token); no private
// build directory is left behind.
func TestBuildWithJoinToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a whole image, compiling init and edgecore")
	}
	tok := testToken(time.Now().Add(24 * time.Hour))
	dir := t.TempDir()
	out := filepath.Join(dir, "gw.img")
	if _, err := Build(context.Background(), Options{
		Board: boards.QEMUArm64(), Version: "test", Output: out, Cache: testCache(t),
		Edgecore: true, EdgecoreConfig: joinConfig(tok), Progress: t.Logf,
	}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("image with a join token has mode %v, want 0600", st.Mode().Perm())
	}
	onBoot, err := disk.ReadFile(out, 1, jointoken.BootFile)
	if err != nil || string(onBoot) != tok+"\n" {
		t.Errorf("boot partition %s = %q, %v", jointoken.BootFile, onBoot, err)
	}
	// The slot's files as they are, and the root image's files as
	// fsck.erofs extracts them (the image itself is compressed).
	slot := map[string][]byte{}
	for _, name := range []string{InitrdFile, rootfs.ImageFile} {
		data, err := disk.ReadFile(out, 2, name)
		if err != nil {
			t.Fatal(err)
		}
		slot[name] = data
	}
	cpio, err := io.ReadAll(initramfs.Open(slot[InitrdFile]))
	if err != nil {
		t.Fatal(err)
	}
	slot[InitrdFile+" (unpacked)"] = cpio
	rootFile := filepath.Join(t.TempDir(), rootfs.ImageFile)
	if err := os.WriteFile(rootFile, slot[rootfs.ImageFile], 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(t.TempDir(), "root")
	if msg, err := exec.Command("fsck.erofs", "--extract="+tree, rootFile).CombinedOutput(); err != nil {
		t.Fatalf("fsck.erofs: %v: %s", err, msg)
	}
	err = filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		slot["root image "+strings.TrimPrefix(p, tree)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range slot {
		for _, part := range strings.Split(tok, ".") {
			if bytes.Contains(data, []byte(part)) {
				t.Errorf("%s holds part of the token (%d characters)", name, len(part))
			}
		}
	}
	if conf := slot["root image "+edgecoreConfigPath]; !bytes.Contains(conf, []byte("token: \"\"")) {
		t.Errorf("the root image's edgecore.yaml has no emptied token field:\n%s", conf)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

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
		{"join token", hub("    token: " + testToken(farFuture) + "\n"), ""},
		{"token not KubeEdge's", hub("    token: abc.def\n"), "modules.edgeHub.token"},
		{"token JWT without expiry", hub("    token: " + strings.Repeat("ab", 32) + "." + seg(`{"alg":"HS256"}`) + "." + seg(`{}`) + "." + seg("s") + "\n"), "no exp"},
		{"token expired", hub("    token: " + testToken(time.Unix(1000000000, 0)) + "\n"), "expired at 2001-09-09T01:46:40Z"},
		{"token with edgehub off", head + "modules:\n  edgeHub:\n    enable: false\n    token: " + testToken(farFuture) + "\n", "would never be used"},
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
			case err != nil && strings.Contains(tt.raw, "token: ") && strings.Contains(err.Error(), seg(`{"alg":"HS256"}`)):
				t.Fatalf("error %q shows the token", err)
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
