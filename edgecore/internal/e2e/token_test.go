package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// TestServiceAccountToken: a pod bound to the node gets its
// kube-api-access volume, token included, as a kubelet's would: edged asks
// for the token with a query of <ns>/serviceaccounttoken/<sa> carrying the
// TokenRequest, the cloud makes the TokenRequest to the API server, and
// the token the edge writes is one the API server accepts for the pod.
// The cloud's answer is not acked (cloudhub's no-ack queue). A token for
// an account the API server does not know is refused in cloudcore's
// shape, and no token is written. With the cloud away, a restarted edge
// writes the last token it was given. (No containerd runs here: the
// volumes are set up whether or not the runtime answers, as the kubelet's
// volume manager does.)
func TestServiceAccountToken(t *testing.T) {
	cloud := newCloud(t, testcloud.Options{})
	root := filepath.Join(t.TempDir(), "kubelet")
	n := newNodeOpts(t, cloud, token(t, cloud, time.Hour), nodeOptions{edged: true, rootDirectory: root})
	p := n.start(t)
	waitKube(t, "node registered", 10*time.Second, func(ctx context.Context, c kubernetes.Interface) (bool, error) {
		_, err := c.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		return err == nil, err
	})
	pod := createPod(t, n.name, "with-token")
	t.Cleanup(func() { forceDelete(t, pod.Name) })
	vol := kubeAPIAccessVolume(t, pod)
	dir := filepath.Join(root, "pods", string(pod.UID), "volumes", "kubernetes.io~projected", vol)
	tokenFile := filepath.Join(dir, "token")
	issued := waitFile(t, tokenFile, 20*time.Second)
	checkToken(t, issued, pod)
	if got := readFile(t, filepath.Join(dir, "namespace")); got != testNamespace {
		t.Errorf("namespace file %q, want %q", got, testNamespace)
	}
	if got, want := readFile(t, filepath.Join(dir, "ca.crt")), rootCA(t); got != want {
		t.Errorf("ca.crt is not the cluster's CA (kube-root-ca.crt)")
	}
	checkTokenQuery(t, cloud, n.name, pod)

	// An account the API server does not know (gone after the pod was
	// made): refused, nothing written.
	p.stop(t)
	doomed := createPodOfAccount(t, n.name, "doomed-pod", "doomed")
	t.Cleanup(func() { forceDelete(t, doomed.Name) })
	p = n.start(t)
	p.waitLog(t, `serviceaccounts "doomed" not found`, 20*time.Second)
	checkRefusal(t, cloud, n.name, "doomed")
	doomedDir := filepath.Join(root, "pods", string(doomed.UID), "volumes", "kubernetes.io~projected", kubeAPIAccessVolume(t, doomed))
	if _, err := os.Stat(filepath.Join(doomedDir, "token")); !os.IsNotExist(err) {
		t.Errorf("a token file for a refused account: %v", err)
	}

	// The cloud away and edgecore restarted: the volume, gone, comes back
	// with the token the cloud gave last.
	p.stop(t)
	cloud.Down()
	last := lastIssued(t, cloud, n.name, "default")
	if err := os.RemoveAll(filepath.Join(root, "pods", string(pod.UID))); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	if got := waitFile(t, tokenFile, 20*time.Second); got != last {
		t.Errorf("offline, the token file holds another token than the last the cloud issued")
	}
}

// lastIssued is the token of the cloud's last answer to a query for
// account's token.
func lastIssued(t *testing.T, cloud *testcloud.Cloud, node, account string) string {
	t.Helper()
	resource := model.BuildResource(testNamespace, model.ResourceTypeServiceAccountToken, account)
	tr := &authenticationv1.TokenRequest{}
	cloud.Inspect(func(v *testcloud.View) {
		answers := downstreamFor(v, node, resource, model.ResponseOperation)
		if len(answers) == 0 {
			t.Fatalf("the cloud did not answer %s", resource)
		}
		if err := answers[len(answers)-1].DecodeContent(tr); err != nil {
			t.Fatal(err)
		}
	})
	if tr.Status.Token == "" {
		t.Fatalf("the cloud's last answer for %s has no token", resource)
	}
	return tr.Status.Token
}

// kubeAPIAccessVolume is the name of the volume the ServiceAccount
// admission added to pod.
func kubeAPIAccessVolume(t *testing.T, pod *v1.Pod) string {
	t.Helper()
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
			return v.Name
		}
	}
	t.Fatalf("pod %s has no kube-api-access volume: %+v", pod.Name, pod.Spec.Volumes)
	return ""
}

// checkToken asks the API server who the token is: the pod's service
// account, bound to the pod.
func checkToken(t *testing.T, token string, pod *v1.Pod) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	review, err := kubeClient(t).AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := review.Status.User
	extra := func(k string) string {
		if v := u.Extra[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	if !review.Status.Authenticated || u.Username != "system:serviceaccount:"+testNamespace+":default" ||
		extra("authentication.kubernetes.io/pod-name") != pod.Name || extra("authentication.kubernetes.io/pod-uid") != string(pod.UID) {
		t.Errorf("the API server's review of the token in the volume: %+v", review.Status)
	}
}

// checkTokenQuery finds the edge's query and the cloud's answer: the
// query carries the pod's TokenRequest; the answer, a TokenRequest, is not
// acked.
func checkTokenQuery(t *testing.T, cloud *testcloud.Cloud, node string, pod *v1.Pod) {
	t.Helper()
	resource := model.BuildResource(testNamespace, model.ResourceTypeServiceAccountToken, "default")
	time.Sleep(500 * time.Millisecond) // room for an ack, which must not come
	cloud.Inspect(func(v *testcloud.View) {
		queries := upstreamFor(v, node, resource, model.QueryOperation)
		if len(queries) == 0 {
			t.Fatalf("no query of %s reached the cloud", resource)
		}
		q := queries[0].Msg
		tr := &authenticationv1.TokenRequest{}
		if err := q.DecodeContent(tr); err != nil || tr.Spec.BoundObjectRef == nil || tr.Spec.BoundObjectRef.UID != pod.UID ||
			tr.Spec.BoundObjectRef.Kind != "Pod" || tr.Spec.ExpirationSeconds == nil || q.Source() != model.EdgedModuleName {
			t.Errorf("query content %s from %s (%v), want the pod's TokenRequest from edged", q.ContentText(), q.Source(), err)
		}
		answers := downstreamFor(v, node, resource, model.ResponseOperation)
		if len(answers) == 0 {
			t.Fatalf("the cloud did not answer %s", resource)
		}
		for _, a := range answers {
			if !strings.Contains(a.ContentText(), `"kind":"TokenRequest"`) {
				t.Errorf("answer %s, want a TokenRequest", a.ContentText())
			}
			if v.Acks(a.ID()) != 0 {
				t.Errorf("the edge acked the token answer %s; cloudhub sends it on its no-ack queue", a.ID())
			}
		}
	})
}

// checkRefusal finds the cloud's answer to the query for account: the API
// server's NotFound as cloudcore marshals it.
func checkRefusal(t *testing.T, cloud *testcloud.Cloud, node, account string) {
	t.Helper()
	resource := model.BuildResource(testNamespace, model.ResourceTypeServiceAccountToken, account)
	cloud.Inspect(func(v *testcloud.View) {
		answers := downstreamFor(v, node, resource, model.ResponseOperation)
		if len(answers) == 0 {
			t.Fatalf("the cloud did not answer %s", resource)
		}
		body := answers[0].ContentText()
		for _, want := range []string{`"ErrStatus"`, `"reason":"NotFound"`, `"code":404`, `serviceaccounts \"` + account + `\" not found`} {
			if !strings.Contains(body, want) {
				t.Errorf("refusal %s lacks %s", body, want)
			}
		}
	})
}

// createPodOfAccount makes a pod of service account account bound to
// node, then deletes the account: the pod keeps naming it.
func createPodOfAccount(t *testing.T, node, name, account string) *v1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	core := kubeClient(t).CoreV1()
	sa := &v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account, Namespace: testNamespace}}
	if _, err := core.ServiceAccounts(testNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := core.Pods(testNamespace).Create(ctx, &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec:       v1.PodSpec{NodeName: node, ServiceAccountName: account, Containers: []v1.Container{{Name: "c", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.ServiceAccounts(testNamespace).Delete(ctx, account, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	return pod
}

// rootCA is the cluster CA the namespace's kube-root-ca.crt holds.
func rootCA(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm, err := kubeClient(t).CoreV1().ConfigMaps(testNamespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["ca.crt"]
}

// waitFile waits until path exists with content and returns it.
func waitFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %s", path, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// forceDelete removes a pod of the suite's namespace at once: with no
// runtime here, the edge never confirms a graceful deletion.
func forceDelete(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	zero := int64(0)
	_ = kubeClient(t).CoreV1().Pods(testNamespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}
