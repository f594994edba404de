package testcloud

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A token query is a TokenRequest to the API server, as cloudcore makes
// it: the issued token authenticates as the service account, bound to the
// pod; what the API server refuses (an unknown account, a pod that is not
// the one named) comes back as its error in cloudcore's shape.
func TestServiceAccountTokenQuery(t *testing.T) {
	_, k, e := kubeCloud(t, "tokens-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.EnsureNamespace(ctx, "tk"); err != nil {
		t.Fatal(err)
	}
	pod, err := k.Client().CoreV1().Pods("tk").Create(ctx, &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "tk"},
		Spec:       v1.PodSpec{NodeName: "tokens-1", Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp := int64(3607)
	request := func(uid types.UID) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "p", UID: uid},
		}}
	}

	body := e.request("tk/serviceaccounttoken/default", "query", request(pod.UID))
	issued := &authenticationv1.TokenRequest{}
	if err := json.Unmarshal([]byte(body), issued); err != nil || issued.Status.Token == "" {
		t.Fatalf("token query answered %s (%v), want an issued TokenRequest", body, err)
	}
	if issued.Kind != "TokenRequest" || issued.APIVersion != "authentication.k8s.io/v1" {
		t.Errorf("issued token's type %s %s, want TokenRequest authentication.k8s.io/v1", issued.APIVersion, issued.Kind)
	}
	review, err := k.Client().AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: issued.Status.Token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := review.Status.User
	if !review.Status.Authenticated || u.Username != "system:serviceaccount:tk:default" ||
		!equal(u.Extra["authentication.kubernetes.io/pod-name"], "p") || !equal(u.Extra["authentication.kubernetes.io/pod-uid"], string(pod.UID)) {
		t.Errorf("the API server's review of the issued token: %+v", review.Status)
	}

	for _, tc := range []struct {
		name, resource string
		content        any
		reason         metav1.StatusReason
		message        string
	}{
		{"unknown service account", "tk/serviceaccounttoken/ghost", request(pod.UID), metav1.StatusReasonNotFound, `serviceaccounts "ghost" not found`},
		{"bound to a pod that is not the one named", "tk/serviceaccounttoken/default", request("not-the-uid"), metav1.StatusReasonConflict, "does not match the UID in record"},
	} {
		st := errStatus(t, e.request(tc.resource, "query", tc.content))
		if st.Reason != tc.reason || !strings.Contains(st.Message, tc.message) {
			t.Errorf("%s: %+v, want %s saying %q", tc.name, st, tc.reason, tc.message)
		}
	}
	if body := e.request("tk/serviceaccounttoken/default", "query", "{not json"); strings.Contains(body, `"token"`) {
		t.Errorf("a query without a TokenRequest got a token: %s", body)
	}
}

func equal(values authenticationv1.ExtraValue, want string) bool {
	return len(values) == 1 && values[0] == want
}
