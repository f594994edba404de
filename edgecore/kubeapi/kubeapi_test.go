package kubeapi

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// The tests share one server, as the e2e suite does.
func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantStatus fails unless err is an API error with HTTP code and, when
// field is set, a cause naming field whose message contains msg.
func wantStatus(t *testing.T, err error, code int32, field, msg string) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("got %v, want an API error with code %d", err, code)
	}
	if got := status.Status().Code; got != code {
		t.Fatalf("got code %d (%v), want %d", got, err, code)
	}
	if field == "" {
		return
	}
	if details := status.Status().Details; details != nil {
		for _, c := range details.Causes {
			if c.Field == field && strings.Contains(c.Message, msg) {
				return
			}
		}
	}
	t.Fatalf("no cause for %s with %q in %v", field, msg, err)
}

func TestServerVersion(t *testing.T) {
	s := Shared(t)
	v, err := s.Client().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != Version {
		t.Errorf("server version %s, want %s", v.GitVersion, Version)
	}
}

// TestSystemNamespaces: the apiserver makes these itself; kubelets (and
// edge nodes through cloudcore) put their leases in kube-node-lease.
func TestSystemNamespaces(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		if _, err := s.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
}

// TestNodeLease walks a node heartbeat through the apiserver's optimistic
// concurrency: an update must carry the resourceVersion it read, and a
// stale one conflicts.
func TestNodeLease(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	const name = "edge-lease"
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := s.Client().CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}

	leases := s.Client().CoordinationV1().Leases(corev1.NamespaceNodeLease)
	created, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(name),
			LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create lease: %v", err)
	}

	renew := func(rv string) (*coordinationv1.Lease, error) {
		l := created.DeepCopy()
		l.ResourceVersion = rv
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		return leases.Update(ctx, l, metav1.UpdateOptions{})
	}

	_, err = renew("")
	wantStatus(t, err, http.StatusUnprocessableEntity, "metadata.resourceVersion", "must be specified for an update")
	if !apierrors.IsInvalid(err) {
		t.Errorf("update without resourceVersion: %v, want reason Invalid", err)
	}

	updated, err := renew(created.ResourceVersion)
	if err != nil {
		t.Fatalf("update with the last resourceVersion: %v", err)
	}
	if updated.ResourceVersion == created.ResourceVersion {
		t.Errorf("resourceVersion stayed %s after an update", updated.ResourceVersion)
	}

	_, err = renew(created.ResourceVersion) // now stale
	wantStatus(t, err, http.StatusConflict, "", "")
	if !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: %v, want reason Conflict", err)
	}
}

// TestStatusPatchOfMissingNode: a node status patch does not create the
// node.
func TestStatusPatchOfMissingNode(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	patch := []byte(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"EdgeReady"}]}}`)
	_, err := s.Client().CoreV1().Nodes().Patch(ctx, "edge-missing", types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "status")
	wantStatus(t, err, http.StatusNotFound, "", "")
	if !apierrors.IsNotFound(err) {
		t.Errorf("status patch of a missing node: %v, want reason NotFound", err)
	}
}

// TestPodBoundToNode: pods of an edge node are created with spec.nodeName
// set; they need the namespace's default ServiceAccount, which
// EnsureNamespace makes in place of kube-controller-manager.
func TestPodBoundToNode(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	pod := func(ns string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: corev1.PodSpec{
				NodeName:   "edge-pods",
				Containers: []corev1.Container{{Name: "app", Image: "edge/app:1"}},
			},
		}
	}

	// Without the account the ServiceAccount admission plugin refuses.
	const bare = "edge-bare"
	if _, err := s.Client().CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bare}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Client().CoreV1().Pods(bare).Create(ctx, pod(bare), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "serviceaccount") {
		t.Errorf("pod in a namespace without default ServiceAccount: %v, want refused for the account", err)
	}

	const ns = "edge-apps"
	for range 2 { // idempotent
		if err := s.EnsureNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Client().CoreV1().Pods(ns).Create(ctx, pod(ns), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("pod with spec.nodeName: %v", err)
	}
	if got.Spec.NodeName != "edge-pods" || got.Spec.ServiceAccountName != "default" {
		t.Errorf("pod stored with nodeName %q, serviceAccountName %q", got.Spec.NodeName, got.Spec.ServiceAccountName)
	}
}

// TestForTest starts a server of its own and checks Stop removes it.
func TestForTest(t *testing.T) {
	var s *Server
	t.Run("run", func(t *testing.T) {
		s = ForTest(t)
		if _, err := s.Client().CoreV1().Namespaces().Get(testContext(t), "default", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if s == nil {
		return // skipped
	}
	if !s.apiserver.exited() || !s.etcd.exited() {
		t.Error("processes still running after the test's cleanup")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("server directory left behind: %v", err)
	}
}

// TestStartFailure: a process that ends early fails Start with the end of
// its log, and leaves nothing behind.
func TestStartFailure(t *testing.T) {
	skipShort(t)
	bins, err := Build(testContext(t), DefaultCacheDir(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	_, err = Start(testContext(t), Options{Binaries: bins, TempDir: tmp, APIServerArgs: []string{"--no-such-flag"}})
	if err == nil || !strings.Contains(err.Error(), "unknown flag: --no-such-flag") {
		t.Fatalf("Start with a bad flag: %v, want the apiserver's complaint", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
