package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// What kubectl would show, read from the suite's API server.

func kubeClient(t testing.TB) kubernetes.Interface { return kube(t).Client() }

// waitKube polls the API server until cond holds.
func waitKube(t testing.TB, what string, timeout time.Duration, cond func(ctx context.Context, c kubernetes.Interface) (bool, error)) {
	t.Helper()
	c := kubeClient(t)
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := cond(ctx, c)
		cancel()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getNode(t testing.TB, name string) (*v1.Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return kubeClient(t).CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}

func getLease(t testing.TB, name string) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return kubeClient(t).CoordinationV1().Leases(model.NodeLeaseNamespace).Get(ctx, name, metav1.GetOptions{})
}

// readyMessage reports whether the node is not Ready with a message
// containing want.
func readyMessage(n *v1.Node, want string) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionFalse && strings.Contains(c.Message, want)
		}
	}
	return false
}

func nodeReady(n *v1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// createPod binds a one-container pod to node in the test namespace, as a
// scheduler would.
func createPod(t testing.TB, node, name string) *v1.Pod {
	t.Helper()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, Labels: map[string]string{"app": name}},
		Spec: v1.PodSpec{
			NodeName:   node,
			Containers: []v1.Container{{Name: "c", Image: "nginx"}},
		},
	}
	pods := kubeClient(t).CoreV1().Pods(testNamespace)
	created, err := pods.Create(apiCtx(t), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The API server is shared by the package's tests: a test that fails
	// half way must not leave its pod to the next one.
	t.Cleanup(func() {
		zero := int64(0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("cleanup: delete pod %s: %v", name, err)
		}
	})
	return created
}

// apiCtx bounds one call to the API server. Each call gets its own: a
// context shared by a test's calls runs out on a loaded machine although
// no single call was slow.
func apiCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// downstreamFor returns the messages the cloud sent node for resource
// with operation op, oldest first.
func downstreamFor(v *testcloud.View, node, resource, op string) []*model.Message {
	var out []*model.Message
	for _, d := range v.Downstream() {
		if d.Node == node && d.Msg.Resource() == resource && d.Msg.Operation() == op {
			out = append(out, d.Msg)
		}
	}
	return out
}

// upstreamFor returns the frames node sent for resource with operation op.
func upstreamFor(v *testcloud.View, node, resource, op string) []testcloud.Upstream {
	var out []testcloud.Upstream
	for _, u := range v.Upstream() {
		if u.Node == node && u.Msg.Resource() == resource && u.Msg.Operation() == op {
			out = append(out, u)
		}
	}
	return out
}
