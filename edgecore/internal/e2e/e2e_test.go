package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/internal/testcloud"
	"github.com/edgegate/edgegate/edgecore/model"
)

// TestJoinAndPodLifecycle: the binary joins with a token, clears it, and
// persists and acks pod insert/update/delete exactly once each, each
// forwarded once to edged (seen through the inspection socket); a resend of
// an applied message is acked again but not applied or forwarded twice, and
// a stale version never overwrites a newer one.
func TestJoinAndPodLifecycle(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{}) // cloudcore's 5 s resend: an ack must beat it
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	p := n.start(t)
	waitCloud(t, cloud, "node registered", 20*time.Second, func(v *testcloud.View) bool {
		_, ok := v.Node(nodeName)
		return ok && v.Connected(nodeName)
	})
	cfg, err := config.Load(n.config)
	if err != nil || cfg.Modules.EdgeHub.Token != "" {
		t.Fatalf("token not cleared from %s (err %v)", n.config, err)
	}
	for _, f := range []string{"ca/rootCA.crt", "certs/server.crt", "certs/server.key"} {
		if st, err := os.Stat(filepath.Join(n.dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v, want 0600", f, err, st.Mode().Perm())
		}
	}

	spec := map[string]any{"nodeName": nodeName, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}}
	insert := testcloud.PodMessage("insert", "default", "web", "uid-web", "100", spec)
	update := testcloud.PodMessage("update", "default", "web", "uid-web", "101", spec)
	gone := testcloud.PodMessage("insert", "default", "gone", "uid-gone", "102", spec)
	del := testcloud.PodMessage("delete", "default", "gone", "uid-gone", "103", spec)
	for _, m := range []*model.Message{insert, update, gone, del} {
		sent := time.Now()
		if err := cloud.Send(nodeName, m); err != nil {
			t.Fatal(err)
		}
		waitCloud(t, cloud, "ack of "+m.Router.Operation+" "+m.Router.Resource, 4*time.Second, func(v *testcloud.View) bool { return v.Acks(m.Header.ID) >= 1 })
		if d := time.Since(sent); d > 4*time.Second {
			t.Fatalf("ack took %s", d)
		}
	}
	// Nothing was resent (acks beat the 5 s timer), so each was acked once.
	time.Sleep(200 * time.Millisecond)
	cloud.Inspect(func(v *testcloud.View) {
		for _, m := range []*model.Message{insert, update, gone, del} {
			if v.Acks(m.Header.ID) != 1 {
				t.Errorf("%s %s acked %d times, want 1", m.Router.Operation, m.Router.Resource, v.Acks(m.Header.ID))
			}
		}
		if v.Synced("default/pod/web") != "101" {
			t.Errorf("cloud ObjectSync for web = %q, want 101", v.Synced("default/pod/web"))
		}
	})
	// edged's side of the bus got each change once: web at 101, gone gone.
	afterOnce := n.waitEdged(t, "pods forwarded", 5*time.Second, func(s edged.Status) bool { return s.Counters.Delete == 1 })
	if c := afterOnce.Counters; c.Insert != 2 || c.Update != 1 || c.Delete != 1 || c.Malformed != 0 {
		t.Fatalf("edged counters %+v, want 2 inserts, 1 update, 1 delete", c)
	}
	if len(afterOnce.Pods) != 1 || afterOnce.Pods[0].Name != "web" || afterOnce.Pods[0].ResourceVersion != "101" || afterOnce.Pods[0].Operation != "update" {
		t.Fatalf("edged pods %+v, want web at 101", afterOnce.Pods)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, afterOnce.Pods[0].Object); err != nil || !strings.Contains(compact.String(), `"containers":[{"image":"nginx","name":"c"}]`) {
		t.Fatalf("edged did not receive the pod spec: %s", afterOnce.Pods[0].Object)
	}

	// cloudcore resends a message whose ack it missed, and synccontroller may
	// send an older version again: both are acked, neither is applied.
	resent := testcloud.PodMessage("update", "default", "web", "uid-web", "101", spec)
	resent.Header.ID = update.Header.ID
	stale := testcloud.PodMessage("update", "default", "web", "uid-web", "100", map[string]any{"nodeName": nodeName, "stale": true})
	for _, m := range []*model.Message{resent, stale} {
		if err := cloud.SendRaw(nodeName, mustJSON(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	waitCloud(t, cloud, "acks of resend and stale", 5*time.Second, func(v *testcloud.View) bool {
		return v.Acks(update.Header.ID) == 2 && v.Acks(stale.Header.ID) == 1
	})
	p.waitLog(t, "already applied", 5*time.Second)
	if s := n.edged(t); s.Counters != afterOnce.Counters || len(s.Pods) != 1 || s.Pods[0].ResourceVersion != "101" {
		t.Fatalf("resend or stale version reached edged: %+v", s)
	}

	p.stop(t)
	pods := n.podRows(t)
	if len(pods) != 1 || !strings.Contains(pods["default/pod/web"], `"resourceVersion":"101"`) || strings.Contains(pods["default/pod/web"], "stale") {
		t.Fatalf("stored pods %v, want only web at resourceVersion 101", pods)
	}

	// Restarted, edged takes its desired set from the store, as KubeEdge's
	// edged lists metamanager's pods on start.
	n.start(t)
	s := n.waitEdged(t, "start-up list", 10*time.Second, func(s edged.Status) bool { return s.Counters.List == 1 })
	if len(s.Pods) != 1 || s.Pods[0].Name != "web" || s.Pods[0].ResourceVersion != "101" || s.Pods[0].Operation != "list" {
		t.Fatalf("edged after restart: %+v", s.Pods)
	}
}
