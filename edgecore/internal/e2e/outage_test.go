package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
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
// pods, reconnects by itself when the cloud returns, takes its node over
// and reports its status at once, and renews its lease again; nothing
// acked is lost.
func TestCloudOutageWithRestart(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{ResendInterval: time.Second, KeepaliveTimeout: 5 * time.Second})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	p := n.start(t)
	waitKube(t, "node registered", 20*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		_, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil, err
	})
	createPod(t, n.name, "outlast")
	resource := model.BuildResource(testNamespace, model.ResourceTypePod, "outlast")
	waitAcked(t, cloud, n.name, resource, model.InsertOperation, 1)
	// The lease is created about 10 s after connecting; the outage must
	// find it there to show that renewals resume afterwards.
	waitKube(t, "lease created", 30*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		_, err := getLease(t, n.name)
		return err == nil, nil
	})

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
	cloud.Inspect(func(v *testcloud.View) { connectsBefore = v.Connects(n.name) })
	before, err := getNode(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	leaseBefore, err := getLease(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Up(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	// Backoff is capped at 2×heartbeat (2 s here) plus jitter.
	waitCloud(t, cloud, "reconnect", 15*time.Second, func(v *testcloud.View) bool {
		return v.Connected(n.name) && v.Connects(n.name) > connectsBefore
	})
	t.Logf("reconnected %s after the cloud came back", time.Since(upAt).Round(time.Millisecond))
	p2.waitLog(t, "already registered in the cloud; taking it over", 10*time.Second)
	waitKube(t, "status reported after the outage", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && node.ResourceVersion != before.ResourceVersion && nodeReady(node), err
	})
	waitKube(t, "lease renewed after the outage", 20*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		l, err := c.CoordinationV1().Leases(model.NodeLeaseNamespace).Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && l.ResourceVersion != leaseBefore.ResourceVersion, err
	})
	cloud.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("cloud issued %d certificates; the restart must reuse the stored one", v.CertsIssued())
		}
	})
	p2.stop(t)
	if pods := n.podRows(t); !strings.Contains(pods[resource], `"name":"outlast"`) {
		t.Fatalf("acked pod lost across outage and restart: %v", pods)
	}
}
