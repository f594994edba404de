package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// TestNodeAsKubectlSeesIt: what the API server holds for a joined node,
// with KubeEdge's defaults (lease of 40 s renewed every 10 s, status
// reported on change or every 5 minutes): a Ready node with its measured
// capacity, the kubelet's pressure conditions and complete node info; a
// lease renewed at least twice in 30 s, each time on the resourceVersion
// the cloud last returned; no status patch while nothing changes; nothing
// refused. Then a restart: the cloud keeps the node, edgecore takes it over
// (AlreadyExists → get) and reports its status at once; and a lease
// written by someone else is taken back after the conflict.
func TestNodeAsKubectlSeesIt(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	p := n.start(t)
	waitKube(t, "node Ready", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && nodeReady(node), err
	})
	node, err := getNode(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	checkNodeObject(t, node)

	// Lease: created, then renewed twice within 30 s.
	var rvs []string
	waitKube(t, "lease renewed twice", 30*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		l, err := c.CoordinationV1().Leases(model.NodeLeaseNamespace).Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(rvs) == 0 || rvs[len(rvs)-1] != l.ResourceVersion {
			rvs = append(rvs, l.ResourceVersion)
		}
		return len(rvs) >= 3, nil
	})
	lease, err := getLease(t, n.name)
	if err != nil {
		t.Fatal(err)
	}
	checkLease(t, lease, node)
	cloud.Inspect(func(v *testcloud.View) {
		if got := len(upstreamFor(v, n.name, model.BuildResource(model.DefaultNamespace, model.ResourceTypeNodePatch, n.name), model.PatchOperation)); got != 0 {
			t.Errorf("%d status patches while nothing changed; want none before nodeStatusReportFrequency", got)
		}
	})
	if out := p.output(); strings.Contains(out, "refused by the cloud") || strings.Contains(out, "cloud refused") {
		t.Fatalf("the cloud refused something:\n%s", out)
	}

	// Restart while the cloud keeps the node.
	p.stop(t)
	before, _ := getNode(t, n.name)
	p = n.start(t)
	p.waitLog(t, "already registered in the cloud; taking it over", 10*time.Second)
	waitKube(t, "status reported after the restart", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		now, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && now.ResourceVersion != before.ResourceVersion && nodeReady(now), err
	})
	after, _ := getNode(t, n.name)
	if after.UID != node.UID {
		t.Fatalf("node recreated across the restart: uid %s → %s", node.UID, after.UID)
	}

	// Someone else writes the lease: the next renewal conflicts, and the
	// edge gets the lease again and renews it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leases := kubeClient(t).CoordinationV1().Leases(model.NodeLeaseNamespace)
	l, err := leases.Get(ctx, n.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := "someone-else"
	l.Spec.HolderIdentity = &other
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKube(t, "lease taken back", 25*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		l, err := c.CoordinationV1().Leases(model.NodeLeaseNamespace).Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == n.name, err
	})
}

func checkNodeObject(t *testing.T, node *v1.Node) {
	t.Helper()
	for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourcePods, v1.ResourceEphemeralStorage} {
		c, a := node.Status.Capacity[r], node.Status.Allocatable[r]
		if c.IsZero() || a.IsZero() || a.Cmp(c) > 0 {
			t.Errorf("%s: capacity %s allocatable %s", r, c.String(), a.String())
		}
	}
	want := map[v1.NodeConditionType]v1.ConditionStatus{
		v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionFalse,
		v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionTrue,
	}
	for _, c := range node.Status.Conditions {
		if w, ok := want[c.Type]; ok && c.Status == w {
			delete(want, c.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("conditions %+v lack %v", node.Status.Conditions, want)
	}
	info := node.Status.NodeInfo
	for field, v := range map[string]string{"kernelVersion": info.KernelVersion, "bootID": info.BootID, "machineID": info.MachineID,
		"systemUUID": info.SystemUUID, "osImage": info.OSImage, "containerRuntimeVersion": info.ContainerRuntimeVersion, "architecture": info.Architecture} {
		if v == "" {
			t.Errorf("nodeInfo.%s empty", field)
		}
	}
	if info.KubeletVersion != nodestatus.KubeletVersion || !strings.HasSuffix(info.KubeletVersion, "-kubeedge-v1.23.1") {
		t.Errorf("kubeletVersion %q", info.KubeletVersion)
	}
	for _, l := range []string{"kubernetes.io/arch", "kubernetes.io/os", "kubernetes.io/hostname", "node-role.kubernetes.io/edge"} {
		if _, ok := node.Labels[l]; !ok {
			t.Errorf("label %s missing: %v", l, node.Labels)
		}
	}
	if node.Annotations["cloudcore"] == "" {
		t.Errorf("the cloud's annotation missing: %v", node.Annotations)
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[len(node.Status.Addresses)-1].Type != v1.NodeHostName {
		t.Errorf("addresses %v", node.Status.Addresses)
	}
}

func checkLease(t *testing.T, l *coordinationv1.Lease, node *v1.Node) {
	t.Helper()
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != node.Name || l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("lease spec %+v", l.Spec)
	}
	if l.Spec.RenewTime == nil || time.Since(l.Spec.RenewTime.Time) > 15*time.Second {
		t.Errorf("lease renewTime %v", l.Spec.RenewTime)
	}
	if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != node.UID || l.OwnerReferences[0].Kind != "Node" {
		t.Errorf("lease owner %+v, want the node %s", l.OwnerReferences, node.UID)
	}
}

// TestNodeDeletedInCloud: a node deleted in the cloud is registered again
// at the next status report.
func TestNodeDeletedInCloud(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	n := newNodeOpts(t, cloud, token(t, cloud, time.Hour), nodeOptions{kubelet: "      nodeStatusReportFrequency: 2s"})
	p := n.start(t)
	var uid string
	waitKube(t, "node", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err == nil {
			uid = string(node.UID)
		}
		return err == nil, err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kubeClient(t).CoreV1().Nodes().Delete(ctx, n.name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKube(t, "node registered again", 15*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		node, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil && string(node.UID) != uid && nodeReady(node), nil
	})
	p.waitLog(t, "no longer exists in the cloud; registering it again", time.Second)
}
