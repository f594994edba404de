package testcloud

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/edgecore/model"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kubeapi.StopShared()
	os.Exit(code)
}

// edge is a raw edge connection to a cloud backed by a real API server.
type edge struct {
	t    *testing.T
	ws   *websocket.Conn
	node string
}

func kubeCloud(t *testing.T, node string) (*Cloud, *kubeapi.Server, *edge) {
	t.Helper()
	k := kubeapi.Shared(t)
	c := ForTest(t, Options{Kube: k.Client(), ResendInterval: 500 * time.Millisecond})
	ws, err := dial(t, c, node, headers(node, "msg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	waitFor(t, c, "session", func(v *View) bool { return v.Connected(node) })
	return c, k, &edge{t: t, ws: ws, node: node}
}

// request sends op on resource with content, as edged's bridge does, and
// returns the cloud's reply body.
func (e *edge) request(resource, op string, content any) string {
	e.t.Helper()
	req := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, resource, op).FillBody(content)
	if err := e.ws.WriteJSON(req); err != nil {
		e.t.Fatal(err)
	}
	e.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var m model.Message
		if err := e.ws.ReadJSON(&m); err != nil {
			e.t.Fatalf("no reply to %s %s: %v", op, resource, err)
		}
		if m.ParentID() != req.ID() {
			continue
		}
		if m.Operation() != model.ResponseOperation || m.Source() != model.EdgeControllerModuleName {
			e.t.Fatalf("reply route %+v", m.Router)
		}
		data, _ := m.ContentData()
		return string(data)
	}
}

// errStatus reads Err (ObjectResp) or the body itself as a Status.
func errStatus(t *testing.T, body string) metav1.Status {
	t.Helper()
	var resp struct {
		Err       *struct{ ErrStatus metav1.Status }
		ErrStatus *metav1.Status
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	switch {
	case resp.Err != nil:
		return resp.Err.ErrStatus
	case resp.ErrStatus != nil:
		return *resp.ErrStatus
	}
	return metav1.Status{}
}

// What the API server refuses, the cloud refuses, in cloudcore's words:
// each case here was accepted by the in-memory cloud edgegate's tests used
// before, and by none of Kubernetes.
func TestCloudRefusesWhatKubernetesRefuses(t *testing.T) {
	_, _, e := kubeCloud(t, "strict-1")
	now := metav1.NewMicroTime(time.Now())
	holder, secs := "strict-1", int32(40)
	lease := coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "strict-1", Namespace: model.NodeLeaseNamespace},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now},
	}
	leaseRes := model.BuildResource(model.NodeLeaseNamespace, model.ResourceTypeLease, "strict-1")
	nodeRes := model.BuildResource(model.DefaultNamespace, model.ResourceTypeNode, "strict-1")
	patchRes := model.BuildResource(model.DefaultNamespace, model.ResourceTypeNodePatch, "strict-1")

	st := errStatus(t, e.request(patchRes, model.PatchOperation, `{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`))
	if st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("status patch before the node exists: %+v, want NotFound", st)
	}
	st = errStatus(t, e.request(leaseRes, model.QueryOperation, nil))
	if st.Reason != metav1.StatusReasonNotFound || !strings.Contains(st.Message, `lease.coordination.k8s.io "strict-1" not found`) {
		t.Errorf("query of a missing lease: %+v", st)
	}
	if st := errStatus(t, e.request(leaseRes, model.InsertOperation, lease)); st.Reason != "" {
		t.Fatalf("lease create refused: %+v", st)
	}
	st = errStatus(t, e.request(leaseRes, model.UpdateOperation, lease))
	if st.Reason != metav1.StatusReasonInvalid || !strings.Contains(st.Message, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update") {
		t.Errorf("lease update without resourceVersion: %+v, want 422 Invalid", st)
	}
	lease.ResourceVersion = "1"
	if st := errStatus(t, e.request(leaseRes, model.UpdateOperation, lease)); st.Reason != metav1.StatusReasonConflict {
		t.Errorf("lease update on a stale resourceVersion: %+v, want Conflict", st)
	}
	node := v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "strict-1", Labels: map[string]string{"kubernetes.io/os": "linux", "custom": "x"}}}
	body := e.request(nodeRes, model.InsertOperation, node)
	var created struct{ Object v1.Node }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Object.UID == "" || created.Object.Labels["kubernetes.io/os"] != "linux" {
		t.Fatalf("node create: %s", body)
	}
	if st := errStatus(t, e.request(nodeRes, model.InsertOperation, node)); st.Reason != metav1.StatusReasonAlreadyExists {
		t.Errorf("second node create: %+v, want AlreadyExists", st)
	}
	if st := errStatus(t, e.request(model.BuildResource("default", model.ResourceTypeConfigmap, "absent"), model.QueryOperation, nil)); st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("query of a missing configmap: %+v", st)
	}
	if body := e.request(nodeRes, model.QueryOperation, nil); !strings.Contains(body, `"kind":"Node"`) || !strings.Contains(body, `"name":"strict-1"`) {
		t.Errorf("node query answered %s, want the node with its type", body)
	}
	if got := e.request(leaseRes, model.InsertOperation, "{not json"); !strings.Contains(got, "unmarshal message content") {
		t.Errorf("malformed lease: %s", got)
	}
}

// A pod bound to the node reaches it with its resourceVersion and is
// resent until acked; a status-only change does not reach it; the edge's
// confirmation of a deletion deletes the pod in the API server, and the
// deletion then reaches the edge.
func TestPodsFromTheAPIServer(t *testing.T) {
	c, k, e := kubeCloud(t, "pods-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.EnsureNamespace(ctx, "tc"); err != nil {
		t.Fatal(err)
	}
	pods := k.Client().CoreV1().Pods("tc")
	pod, err := pods.Create(ctx, &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "tc"},
		Spec:       v1.PodSpec{NodeName: "pods-1", Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	insert := e.next(model.InsertOperation, "tc/pod/p", nil)
	if insert.Header.ResourceVersion != pod.ResourceVersion || insert.Source() != model.EdgeControllerModuleName {
		t.Fatalf("insert %+v, want resourceversion %s", insert.Header, pod.ResourceVersion)
	}
	if again := e.next(model.InsertOperation, "tc/pod/p", nil); again.ID() != insert.ID() {
		t.Fatalf("unacked insert not resent as the same message")
	}
	e.ack(insert)
	waitFor(t, c, "ack", func(v *View) bool { return v.Synced("tc/pod/p") == pod.ResourceVersion })

	// The edge reports status (cloudcore echoes the managedFields change
	// back as an update, which next skips).
	body := e.request("tc/podpatch/p", model.PatchOperation, `{"status":{"phase":"Running"}}`)
	if st := errStatus(t, body); st.Reason != "" {
		t.Fatalf("pod status patch refused: %+v", st)
	}
	// kubectl delete: Terminating reaches the edge as an update.
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	update := e.next(model.UpdateOperation, "tc/pod/p", func(m *model.Message) bool {
		var p v1.Pod
		data, _ := m.ContentData()
		return json.Unmarshal(data, &p) == nil && p.DeletionTimestamp != nil
	})
	e.ack(update)
	// The edge confirms: the pod goes, and the deletion comes back.
	zero := int64(0)
	confirm := metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID))}
	if got := e.request("tc/pod/p", model.DeleteOperation, confirm); got != model.AckContent {
		t.Fatalf("delete confirmation answered %s", got)
	}
	del := e.next(model.DeleteOperation, "tc/pod/p", nil)
	e.ack(del)
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); err == nil {
		t.Fatal("pod still in the API server after the edge confirmed its deletion")
	}
}

// next reads until a message op on resource that match accepts (nil:
// any) arrives; other messages for resource are acked and passed over.
func (e *edge) next(op, resource string, match func(*model.Message) bool) *model.Message {
	e.t.Helper()
	e.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var m model.Message
		if err := e.ws.ReadJSON(&m); err != nil {
			e.t.Fatalf("waiting for %s %s: %v", op, resource, err)
		}
		if m.Resource() != resource {
			continue
		}
		if m.Operation() == op && (match == nil || match(&m)) {
			return &m
		}
		e.ack(&m)
	}
}

func (e *edge) ack(m *model.Message) {
	e.t.Helper()
	if err := e.ws.WriteJSON(model.NewRespByMessage(m, model.AckContent)); err != nil {
		e.t.Fatal(err)
	}
}
