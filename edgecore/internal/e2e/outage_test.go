package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/internal/testcloud"
)

// outage is how long the cloud stays down: the 2 minutes, or 3 s
// under -short so the quick suite stays quick.
func outage() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EDGEGATE_E2E_OUTAGE")); err == nil && d > 0 {
		return d
	}
	if testing.Short() {
		return 3 * time.Second
	}
	return 2 * time.Minute
}

// TestCloudOutageWithRestart: the cloud goes away, edgecore is restarted
// while it is away (no token any more, certificates from disk), keeps its
// pods, queues node status, reconnects by itself when the cloud returns,
// and delivers the queued status; nothing acked is lost.
func TestCloudOutageWithRestart(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{ResendInterval: time.Second, KeepaliveTimeout: 5 * time.Second})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	p := n.start(t)
	waitCloud(t, cloud, "connected", 20*time.Second, func(v *testcloud.View) bool { return v.Connected(nodeName) })
	pod := testcloud.PodMessage("insert", "default", "keep", "uid-keep", "7", map[string]any{"nodeName": nodeName})
	cloud.Send(nodeName, pod)
	waitCloud(t, cloud, "pod acked", 10*time.Second, func(v *testcloud.View) bool { return v.Acks(pod.Header.ID) >= 1 })

	down := outage()
	t.Logf("cloud down for %s", down)
	cloud.Down()
	downAt := time.Now()
	p.waitLog(t, "cloud link down", 10*time.Second)
	time.Sleep(down / 3)
	p.stop(t)
	p2 := n.start(t)
	p2.waitLog(t, "cloud link down", 20*time.Second) // started offline and keeps trying
	time.Sleep(time.Until(downAt.Add(down)))
	if !p2.running() {
		t.Fatalf("edgecore died while the cloud was down")
	}
	var connectsBefore int
	cloud.Inspect(func(v *testcloud.View) { connectsBefore = v.Connects(nodeName) })
	if err := cloud.Up(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	// Backoff is capped at 2×heartbeat (2 s here) plus jitter.
	waitCloud(t, cloud, "reconnect", 15*time.Second, func(v *testcloud.View) bool {
		return v.Connected(nodeName) && v.Connects(nodeName) > connectsBefore
	})
	t.Logf("reconnected %s after the cloud came back", time.Since(upAt).Round(time.Millisecond))
	// The newest status patch made while offline was queued and arrives
	// right after reconnect: created before the new session's first frame.
	waitCloud(t, cloud, "queued status", 10*time.Second, func(v *testcloud.View) bool {
		var sessionStart time.Time
		for _, u := range v.Upstream() {
			if !u.At.After(upAt) {
				continue
			}
			if sessionStart.IsZero() {
				sessionStart = u.At
			}
			made := time.UnixMilli(u.Msg.Header.Timestamp)
			if u.Msg.Router.Operation == "patch" && u.Msg.Router.Resource == "default/nodepatch/"+nodeName && made.Before(sessionStart) {
				return true
			}
		}
		return false
	})
	cloud.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("cloud issued %d certificates; the restart must reuse the stored one", v.CertsIssued())
		}
	})
	p2.stop(t)
	if pods := n.podRows(t); !strings.Contains(pods["default/pod/keep"], "uid-keep") {
		t.Fatalf("acked pod lost across outage and restart: %v", pods)
	}
}
