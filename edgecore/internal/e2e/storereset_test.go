package e2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/nodestatus"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// TestCorruptStoreReportedToTheCloud: edgecore started on a corrupt store
// moves it aside, joins, and the API server holds StoreReset=True naming
// the kept file, beside DataPartitionDegraded=False and a Ready node.
func TestCorruptStoreReportedToTheCloud(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	if err := os.WriteFile(n.db, bytes.Repeat([]byte("not a bbolt page "), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	p := n.start(t)
	p.waitLog(t, "was corrupt", 10*time.Second)
	waitKube(t, "StoreReset reported", 20*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var reset, degraded *v1.NodeCondition
		for i := range node.Status.Conditions {
			switch node.Status.Conditions[i].Type {
			case nodestatus.StoreReset:
				reset = &node.Status.Conditions[i]
			case nodestatus.DataPartitionDegraded:
				degraded = &node.Status.Conditions[i]
			}
		}
		return nodeReady(node) && reset != nil && reset.Status == v1.ConditionTrue && strings.Contains(reset.Message, n.db+".corrupt-") &&
			degraded != nil && degraded.Status == v1.ConditionFalse, nil
	})
}
