package qemu

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
)

// readmeEdgecoreConfig is the edgecore.yaml of the README's "Joining a
// KubeEdge cloud", with its token placeholder filled in: the test builds
// exactly what a reader would.
func readmeEdgecoreConfig(t *testing.T, token string) []byte {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```yaml\n(# edgecore.yaml: the cloud at 10\\.0\\.2\\.2.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README has no edgecore.yaml example for joining a cloud at 10.0.2.2")
	}
	const placeholder = "<the output of keadm gettoken>"
	if !strings.Contains(string(block[1]), placeholder) {
		t.Fatalf("README example has no %s placeholder:\n%s", placeholder, block[1])
	}
	return []byte(strings.Replace(string(block[1]), placeholder, token, 1))
}

// nodeName of the README example.
const readmeNode = "gw-17"

// TestJoinFromREADME builds the arm64 image from the README's example and
// boots it: it joins the test cloud through 10.0.2.2 (the host on QEMU's
// user network) with the token, and the API server behind the cloud holds a
// Ready node with the guest's measured capacity and complete node info,
// and its lease. After a power off the same disk joins again without the
// token, as the same node, and nothing was refused by the cloud. Each
// boot's timeline has the cloud step (edgecore's first connection), and
// /var keeps both boots' timelines.
func TestJoinFromREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU and a Kubernetes API server")
	}
	k := kubeapi.Shared(t)
	// The README's ports, on the host's loopback, where QEMU's user
	// network sends the guest's 10.0.2.2.
	cloud := testcloud.ForTest(t, testcloud.Options{Kube: k.Client(), HTTPAddr: "127.0.0.1:10002", WSAddr: "127.0.0.1:10000"})
	token, err := cloud.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := boards.QEMUArm64()
	disk := filepath.Join(t.TempDir(), "gw.img")
	if _, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: disk, Cache: testCache(t), Containerd: true, Edgecore: true,
		EdgecoreConfig: readmeEdgecoreConfig(t, token),
	}); err != nil {
		t.Fatal(err)
	}
	m := start(t, b, disk, Direct)
	expectWithin(t, m, `edgehub: connected to 10\.0\.2\.2:10000 as gw-17`, ctrdTimeout)
	line, steps := waitTimeline(t, m, ctrdTimeout)
	checkTimeline(t, line, steps, "service:containerd", "service:edgecore", "cloud")
	node := waitNode(t, k, "Ready", ready)
	info := node.Status.NodeInfo
	if info.OSImage != "edgegate test" || !strings.HasSuffix(info.KernelVersion, "-arm64") || info.Architecture != "arm64" ||
		info.ContainerRuntimeVersion != "containerd://2.4.2" ||
		info.BootID == "" || info.MachineID == "" || info.SystemUUID == "" {
		t.Errorf("nodeInfo %+v", info)
	}
	if e := node.Status.Capacity[v1.ResourceEphemeralStorage]; e.IsZero() {
		t.Errorf("no ephemeral-storage: %v", node.Status.Capacity)
	}
	waitLease(t, k)
	powerdown(t, m)

	m = start(t, b, disk, Direct)
	expectWithin(t, m, `edgehub: connected to 10\.0\.2\.2:10000 as gw-17`, ctrdTimeout)
	expectWithin(t, m, `node gw-17 already registered in the cloud; taking it over`, ctrdTimeout)
	again := waitNode(t, k, "Ready with the new boot's status", func(n *v1.Node) bool {
		return ready(n) && n.Status.NodeInfo.BootID != info.BootID
	})
	if again.UID != node.UID || again.Status.NodeInfo.BootID == info.BootID || again.Status.NodeInfo.MachineID != info.MachineID {
		t.Errorf("after the reboot: uid %s → %s, boot %s → %s, machine %s → %s", node.UID, again.UID,
			info.BootID, again.Status.NodeInfo.BootID, info.MachineID, again.Status.NodeInfo.MachineID)
	}
	cloud.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("%d certificates issued; the reboot must reuse the stored one", v.CertsIssued())
		}
	})
	line, _ = waitTimeline(t, m, ctrdTimeout)
	powerdown(t, m)
	checkTimelineHistory(t, partition(t, disk, 4), 2, line)
	if console := m.Console.String(); strings.Contains(console, "refused by the cloud") {
		t.Errorf("the cloud refused something:\n%s", tail(console, 6000))
	}
}

func ready(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// waitNode waits until the API server holds gw-17 and cond holds for it.
func waitNode(t *testing.T, k *kubeapi.Server, what string, cond func(*v1.Node) bool) *v1.Node {
	t.Helper()
	deadline := time.Now().Add(ctrdTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := k.Client().CoreV1().Nodes().Get(ctx, readmeNode, metav1.GetOptions{})
		cancel()
		if err == nil && cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not %s in the API server within %s (%v)", readmeNode, what, ctrdTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitLease(t *testing.T, k *kubeapi.Server) {
	t.Helper()
	deadline := time.Now().Add(ctrdTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l, err := k.Client().CoordinationV1().Leases(model.NodeLeaseNamespace).Get(ctx, readmeNode, metav1.GetOptions{})
		cancel()
		if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == readmeNode {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %s not in the API server within %s: %v", readmeNode, ctrdTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
