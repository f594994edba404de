package e2e

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// TestKeadmJoinFile runs the binary on the edgecore.yaml keadm join of
// each KubeEdge release writes (every v1alpha2 field; the token both in
// modules.edgeHub.token and in bootstrap-edgecore.conf), only paths and
// addresses pointed at the test cloud: it loads, lists the KubeEdge fields
// it ignores once, records its version, joins with the token, clears it
// from the file, removes the bootstrap file, registers the node and keeps
// every field it does not model.
func TestKeadmJoinFile(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	for _, rel := range []string{"v1.21.2", "v1.22.2", "v1.23.1"} {
		t.Run(rel, func(t *testing.T) {
			dir := t.TempDir()
			n := &node{name: nodeNameFor(t), dir: dir, config: filepath.Join(dir, "edgecore.yaml"), db: filepath.Join(dir, "edgecore.db")}
			fixture, err := os.ReadFile("../../config/testdata/kubeedge-" + rel + "/keadm-join.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(n.config, fixture, 0o644); err != nil {
				t.Fatal(err)
			}
			tok := token(t, cloud, time.Hour)
			if err := config.SetFields(n.config, map[string]string{
				"database.dataSource":               n.db,
				"modules.edgeHub.tlsCaFile":         filepath.Join(dir, "ca/rootCA.crt"),
				"modules.edgeHub.tlsCertFile":       filepath.Join(dir, "certs/server.crt"),
				"modules.edgeHub.tlsPrivateKeyFile": filepath.Join(dir, "certs/server.key"),
				"modules.edgeHub.httpServer":        cloud.HTTPServer(),
				"modules.edgeHub.websocket.server":  cloud.WSServer(),
				"modules.edgeHub.token":             tok,
				"modules.edged.hostnameOverride":    n.name,
			}); err != nil {
				t.Fatal(err)
			}
			before, err := config.Load(n.config)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(n.bootstrapFile(), []byte(tok), 0o640); err != nil {
				t.Fatal(err)
			}

			exec := time.Now()
			p := n.start(t)
			// keadm enables edged; this host has no containerd, so the node
			// registers not Ready and says why, as the kubelet does.
			waitKube(t, "node registered, not Ready for want of containerd", 15*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
				node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
				return err == nil && readyMessage(node, "container runtime is down"), err
			})
			t.Logf("%s: registered %s after exec", rel, time.Since(exec).Round(time.Millisecond))
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
			if after.EdgeCoreVersion != "dev" || after.Modules.EdgeHub.Token != "" {
				t.Errorf("edgecoreVersion %q (want the binary's, dev), token %q (want cleared)", after.EdgeCoreVersion, after.Modules.EdgeHub.Token)
			}
			if strings.Join(after.IgnoredFields, ",") != strings.Join(before.IgnoredFields, ",") || len(after.IgnoredFields) == 0 {
				t.Errorf("KubeEdge fields lost in the rewrites:\n%v\n%v", before.IgnoredFields, after.IgnoredFields)
			}
			if st, _ := os.Stat(n.config); st.Mode().Perm() != 0o644 {
				t.Errorf("config mode %v, want 0644 kept", st.Mode().Perm())
			}
			p.stop(t)
		})
	}
}
