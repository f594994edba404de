package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// The update service's outcome file, as it writes it: slot b committed
// after an update, then (another update of slot a having failed its
// trial) fallen back to slot b.
const (
	updateCommitted = `{"board":"qemu-arm64","version":"1.3.0","build":43,"running":"b","active":"b","triesLeft":0,
  "last":"committed","lastSlot":"b","seq":7,"fingerprint":"ab12",
  "lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b"}}`
	updateFellBack = `{"board":"qemu-arm64","version":"1.3.0","build":43,"running":"b","active":"b","triesLeft":0,
  "last":"fell-back","lastSlot":"a","seq":10,"fingerprint":"ab12",
  "lastUpdate":{"time":"2026-11-29T11:00:00Z","version":"1.4.0","build":44,"slot":"a"}}`
)

// TestUpdateConditionReachesTheCloud: once the update service's outcome
// file appears at modules.edged.updateStatusFile, the node carries
// EdgegateUpdate True naming the running slot and version; when the file
// says the gateway fell back, the condition turns False/RolledBack at the
// next status update; the node's other conditions stay as they were.
func TestUpdateConditionReachesTheCloud(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	n.start(t)
	waitKube(t, "node Ready", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && nodeReady(node), err
	})
	before, err := getNode(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	if c := nodeCondition(before, "EdgegateUpdate"); c != nil {
		t.Fatalf("EdgegateUpdate %+v without an outcome file", *c)
	}

	writeUpdateStatus(t, n.updateStatusFile(), updateCommitted)
	committed := waitUpdateCondition(t, n.name, v1.ConditionTrue, "Committed", 10*time.Second)
	if want := "slot b runs version 1.3.0 (build 43)"; committed.Message != want {
		t.Errorf("message %q, want %q", committed.Message, want)
	}

	// The status is updated every second (nodeStatusUpdateFrequency). The
	// pause puts the change in another second than the first transition,
	// the API server's resolution.
	time.Sleep(1100 * time.Millisecond)
	writeUpdateStatus(t, n.updateStatusFile(), updateFellBack)
	back := waitUpdateCondition(t, n.name, v1.ConditionFalse, "RolledBack", 5*time.Second)
	if want := "slot a failed its trial and the gateway rolled back; slot b runs version 1.3.0 (build 43)"; back.Message != want {
		t.Errorf("message %q, want %q", back.Message, want)
	}
	if !back.LastTransitionTime.After(committed.LastTransitionTime.Time) {
		t.Errorf("lastTransitionTime %v after the change, was %v", back.LastTransitionTime, committed.LastTransitionTime)
	}

	after, err := getNode(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Status.Conditions) != len(before.Status.Conditions)+1 {
		t.Errorf("conditions %+v, were %+v", after.Status.Conditions, before.Status.Conditions)
	}
	for _, was := range before.Status.Conditions {
		now := nodeCondition(after, was.Type)
		if now == nil || now.Status != was.Status || now.Reason != was.Reason || now.Message != was.Message ||
			!now.LastTransitionTime.Equal(&was.LastTransitionTime) {
			t.Errorf("%s changed: %+v, was %+v", was.Type, now, was)
		}
	}
}

func nodeCondition(n *v1.Node, t v1.NodeConditionType) *v1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// writeUpdateStatus writes the outcome file as the update service does:
// a new file renamed over the old one.
func writeUpdateStatus(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitUpdateCondition waits until the API server holds EdgegateUpdate with
// status and reason, and returns it.
func waitUpdateCondition(t *testing.T, node string, status v1.ConditionStatus, reason string, timeout time.Duration) v1.NodeCondition {
	t.Helper()
	var got v1.NodeCondition
	waitKube(t, "EdgegateUpdate "+string(status)+"/"+reason, timeout, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if cond := nodeCondition(n, "EdgegateUpdate"); cond != nil {
			got = *cond
		}
		return got.Status == status && got.Reason == reason, nil
	})
	return got
}
