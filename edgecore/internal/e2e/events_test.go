package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// missingImage is on a registry address nothing listens on: every pull
// fails at once, as for an image that does not exist.
const missingImage = "127.0.0.1:1/edgegate/missing:1"

// TestPodEventsReachTheAPIServer: two nodes on one real containerd run a
// pod whose image cannot be pulled. With reportEvent the kubelet's events
// reach the API server as kubectl describe shows them: Pulling, Failed
// "Error: ErrImagePull" about the container (involvedObject the pod, its
// UID and spec.containers{c}), from the kubelet on the node, its count
// rising with each attempt; BackOff; and the node's Starting. Without
// reportEvent (KubeEdge's default) not one event write leaves the node,
// although the pod fails the same way.
func TestPodEventsReachTheAPIServer(t *testing.T) {
	// Pulls are all this test asks of containerd: its pods use the host's
	// network.
	ctrd := hostctrd.StartForTest(t, hostctrd.RuntimeForTest(t), hostctrd.Options{})
	cloud := newCloud(t, testcloud.Options{})
	runtime := "      containerRuntimeEndpoint: unix://" + ctrd.Settings.Socket
	on := newNodeOpts(t, cloud, token(t, cloud, time.Hour), nodeOptions{name: nodeNameFor(t) + "-on", edged: true, kubelet: runtime})
	reportEvents(t, on)
	off := newNodeOpts(t, cloud, token(t, cloud, time.Hour), nodeOptions{name: nodeNameFor(t) + "-off", edged: true, kubelet: runtime})
	on.startIsolated(t)
	off.startIsolated(t)
	podOn, podOff := createFailingPod(t, on.name, "pull-on"), createFailingPod(t, off.name, "pull-off")
	for _, p := range []*v1.Pod{podOn, podOff} {
		waitKube(t, p.Name+" reported ErrImagePull", 60*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
			got, err := c.CoreV1().Pods(testNamespace).Get(ctx, p.Name, metav1.GetOptions{})
			return err == nil && waitingFor(got, "ErrImagePull", "ImagePullBackOff"), err
		})
	}

	// The pull fails again after its 10 s back-off: the same event, counted.
	var first *v1.Event
	waitKube(t, "Failed event of pull-on", 30*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		ev, err := findEvent(ctx, c, podOn, "Failed", "Error: ErrImagePull")
		first = ev
		return ev != nil, err
	})
	checkContainerEvent(t, first, podOn, on.name, v1.EventTypeWarning)
	waitKube(t, "Failed event counted again", 60*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		ev, err := findEvent(ctx, c, podOn, "Failed", "Error: ErrImagePull")
		if ev == nil || ev.Count <= first.Count {
			return false, err
		}
		if ev.Name != first.Name || !ev.FirstTimestamp.Equal(&first.FirstTimestamp) || ev.LastTimestamp.Before(&first.LastTimestamp) {
			t.Fatalf("repeat %+v, want the count of %s raised", ev, first.Name)
		}
		t.Logf("event %s: %s %q, count %d, then %d", ev.Name, ev.Reason, ev.Message, first.Count, ev.Count)
		return true, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := kubeClient(t)
	for _, want := range []struct{ reason, message, typ string }{
		{"Pulling", fmt.Sprintf("Pulling image %q", missingImage), v1.EventTypeNormal},
		{"Failed", fmt.Sprintf("Failed to pull image %q: ", missingImage), v1.EventTypeWarning},
		{"BackOff", fmt.Sprintf("Back-off pulling image %q", missingImage), v1.EventTypeNormal},
	} {
		ev, err := findEvent(ctx, c, podOn, want.reason, want.message)
		if err != nil || ev == nil {
			t.Fatalf("no %s event %q for pull-on (%v)", want.reason, want.message, err)
		}
		checkContainerEvent(t, ev, podOn, on.name, want.typ)
	}
	starting, err := c.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Node", "involvedObject.name": on.name, "reason": "Starting"}.String()})
	if err != nil || len(starting.Items) == 0 || starting.Items[0].Source.Host != on.name {
		t.Fatalf("node event Starting of %s: %+v (%v)", on.name, starting, err)
	}

	// The node without reportEvent failed as often and said nothing.
	if s := off.edged(t); s.Events.Recorded != 0 || s.Events.Sent != 0 {
		t.Fatalf("edged without reportEvent counted events: %+v", s.Events)
	}
	for _, obj := range []string{podOff.Name, off.name} {
		for _, ns := range []string{testNamespace, metav1.NamespaceDefault} {
			list, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", obj).String()})
			if err != nil || len(list.Items) != 0 {
				t.Fatalf("events about %s in %s without reportEvent: %+v (%v)", obj, ns, list, err)
			}
		}
	}
	cloud.Inspect(func(v *testcloud.View) {
		for _, u := range v.Upstream() {
			if u.Node == off.name && strings.Contains(u.Msg.Resource(), "/event/") {
				t.Fatalf("node without reportEvent sent %s %s", u.Msg.Operation(), u.Msg.Resource())
			}
		}
		for _, r := range v.EventRefusals() {
			t.Errorf("event write refused: %+v", r)
		}
	})
	if s := on.edged(t); s.Events.Sent == 0 || s.Events.Dropped != 0 {
		t.Fatalf("edged with reportEvent: %+v", s.Events)
	}
}

// reportEvents sets modules.edged.reportEvent in the node's config.
func reportEvents(t *testing.T, n *node) {
	t.Helper()
	doc, err := os.ReadFile(n.config)
	if err != nil {
		t.Fatal(err)
	}
	const edgedOn = "  edged:\n    enable: true\n"
	if !strings.Contains(string(doc), edgedOn) {
		t.Fatalf("config of %s has no enabled edged:\n%s", n.name, doc)
	}
	doc = []byte(strings.Replace(string(doc), edgedOn, edgedOn+"    reportEvent: true\n", 1))
	if err := os.WriteFile(n.config, doc, 0o600); err != nil {
		t.Fatal(err)
	}
}

// createFailingPod binds a pod of the missing image to node. It uses the
// host's network (this host has no pod network) and no token volume.
func createFailingPod(t *testing.T, node, name string) *v1.Pod {
	t.Helper()
	automount := false
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: v1.PodSpec{
			NodeName: node, HostNetwork: true, AutomountServiceAccountToken: &automount,
			Containers: []v1.Container{{Name: "c", Image: missingImage, ImagePullPolicy: v1.PullIfNotPresent}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	created, err := kubeClient(t).CoreV1().Pods(testNamespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = kubeClient(t).CoreV1().Pods(testNamespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	return created
}

func waitingFor(p *v1.Pod, reasons ...string) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && slices.Contains(reasons, cs.State.Waiting.Reason) {
			return true
		}
	}
	return false
}

// findEvent is the event about pod with reason whose message starts with
// prefix, or nil.
func findEvent(ctx context.Context, c kubernetes.Interface, pod *v1.Pod, reason, prefix string) (*v1.Event, error) {
	list, err := c.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.uid": string(pod.UID), "reason": reason}.String()})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		if strings.HasPrefix(list.Items[i].Message, prefix) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// checkContainerEvent: the event is about the pod's container c, from the
// kubelet on node, as the kubelet reports it.
func checkContainerEvent(t *testing.T, ev *v1.Event, pod *v1.Pod, node, typ string) {
	t.Helper()
	o := ev.InvolvedObject
	if o.Kind != "Pod" || o.APIVersion != "v1" || o.Namespace != pod.Namespace || o.Name != pod.Name || o.UID != pod.UID ||
		o.FieldPath != "spec.containers{c}" || ev.Namespace != pod.Namespace || ev.Type != typ ||
		ev.Source != (v1.EventSource{Component: "kubelet", Host: node}) || ev.ReportingController != "kubelet" || ev.ReportingInstance != node ||
		ev.Count < 1 || ev.FirstTimestamp.IsZero() || ev.LastTimestamp.Before(&ev.FirstTimestamp) {
		t.Fatalf("event %+v, want a %s event about container c of %s/%s (%s) from the kubelet on %s", ev, typ, pod.Namespace, pod.Name, pod.UID, node)
	}
}
