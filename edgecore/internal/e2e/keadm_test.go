package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/internal/testcloud"
)

// TestKeadmJoinFile runs the binary on an edgecore.yaml as keadm join of
// KubeEdge v1.22 writes it (every v1alpha2 field, the token left in
// bootstrap-edgecore.conf), only paths and addresses pointed at the test
// cloud (and the status period shortened): it loads, lists the KubeEdge fields it ignores once, records its
// version, joins with the bootstrap token, removes the bootstrap file and
// keeps every field it does not model.
func TestKeadmJoinFile(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{})
	dir := t.TempDir()
	n := &node{dir: dir, config: filepath.Join(dir, "edgecore.yaml"), db: filepath.Join(dir, "edgecore.db")}
	fixture, err := os.ReadFile("../../config/testdata/keadm-join-v1.22.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.config, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := config.SetFields(n.config, map[string]string{
		"database.dataSource":                                n.db,
		"modules.edgeHub.tlsCaFile":                          filepath.Join(dir, "ca/rootCA.crt"),
		"modules.edgeHub.tlsCertFile":                        filepath.Join(dir, "certs/server.crt"),
		"modules.edgeHub.tlsPrivateKeyFile":                  filepath.Join(dir, "certs/server.key"),
		"modules.edgeHub.httpServer":                         cloud.HTTPServer(),
		"modules.edgeHub.websocket.server":                   cloud.WSServer(),
		"modules.edged.tailoredKubeletFlag.hostnameOverride": nodeName,
		// The first registration races the link; retry within a second, not
		// KubeEdge's 10 s.
		"modules.edged.tailoredKubeletConfig.nodeStatusUpdateFrequency": "1s",
	}); err != nil {
		t.Fatal(err)
	}
	before, err := config.Load(n.config)
	if err != nil {
		t.Fatal(err)
	}
	if before.Modules.EdgeHub.Token != "" || before.EdgeCoreVersion != "" {
		t.Fatalf("fixture should carry no token and no edgecoreVersion")
	}
	if err := os.WriteFile(n.bootstrapFile(), []byte(token(t, cloud, time.Hour)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	p := n.start(t)
	waitCloud(t, cloud, "node registered", 20*time.Second, func(v *testcloud.View) bool {
		_, ok := v.Node(nodeName)
		return ok && v.Connected(nodeName)
	})
	p.waitLog(t, "join token read from "+n.bootstrapFile(), time.Second)
	if got := strings.Count(p.output(), "KubeEdge fields edgegate does not use are ignored"); got != 1 {
		t.Errorf("ignored fields logged %d times, want once", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Stat(n.bootstrapFile())
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bootstrap token file still there after the join (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after, err := config.Load(n.config)
	if err != nil {
		t.Fatal(err)
	}
	if after.EdgeCoreVersion != "dev" {
		t.Errorf("edgecoreVersion %q, want the binary's version (dev)", after.EdgeCoreVersion)
	}
	if strings.Join(after.IgnoredFields, ",") != strings.Join(before.IgnoredFields, ",") || len(after.IgnoredFields) == 0 {
		t.Errorf("KubeEdge fields lost in the rewrites:\n%v\n%v", before.IgnoredFields, after.IgnoredFields)
	}
	if st, _ := os.Stat(n.config); st.Mode().Perm() != 0o644 {
		t.Errorf("config mode %v, want 0644 kept", st.Mode().Perm())
	}
}
