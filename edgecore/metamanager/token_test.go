package metamanager

import (
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgegate/edgegate/edgecore/model"
)

func tokenRequest(pod, uid string, exp int64, audiences ...string) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         audiences,
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod, UID: types.UID(uid)},
	}}
}

// issued is what the API server answers tr with: the request, the
// audiences filled in, a token.
func issued(tr *authenticationv1.TokenRequest, token string) *authenticationv1.TokenRequest {
	out := tr.DeepCopy()
	out.Kind, out.APIVersion = "TokenRequest", "authentication.k8s.io/v1"
	if len(out.Spec.Audiences) == 0 {
		out.Spec.Audiences = []string{"https://kubernetes.default.svc.cluster.local"}
	}
	out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))}
	return out
}

func TestTokenKey(t *testing.T) {
	base := tokenRequest("web", "u1", 3607)
	if got, want := TokenKey("default", "ns", base),
		`"default"/"ns"/[]string(nil)/3607/v1.BoundObjectReference{Kind:"Pod", APIVersion:"v1", Name:"web", UID:"u1"}`; got != want {
		t.Errorf("TokenKey = %s\nwant       %s (KubeEdge's KeyFunc)", got, want)
	}
	if got := TokenKey("default", "ns", &authenticationv1.TokenRequest{}); got != `"default"/"ns"/[]string(nil)/0/v1.BoundObjectReference{Kind:"", APIVersion:"", Name:"", UID:""}` {
		t.Errorf("TokenKey of an empty request = %s", got)
	}
	differs := map[string]*authenticationv1.TokenRequest{
		"another pod":      tokenRequest("web", "u2", 3607),
		"another lifetime": tokenRequest("web", "u1", 600),
		"an audience":      tokenRequest("web", "u1", 3607, "vault"),
	}
	for what, tr := range differs {
		if TokenKey("default", "ns", tr) == TokenKey("default", "ns", base) {
			t.Errorf("%s gives the same key", what)
		}
	}
	if TokenKey("other", "ns", base) == TokenKey("default", "ns", base) || TokenKey("default", "ns2", base) == TokenKey("default", "ns", base) {
		t.Error("service account or namespace does not change the key")
	}
}

// askToken runs c.ServiceAccountToken in the background.
func askToken(c *Client, name string, tr *authenticationv1.TokenRequest) chan tokenResult {
	res := make(chan tokenResult, 1)
	go func() {
		got, err := c.ServiceAccountToken("ns", name, tr)
		res <- tokenResult{got, err}
	}()
	return res
}

type tokenResult struct {
	tr  *authenticationv1.TokenRequest
	err error
}

// TestTokenOnlineThenOffline: online the request goes to the cloud with
// the TokenRequest, the answer is kept under the request's key and not
// acked (cloudhub's no-ack queue); offline the same request gets the kept
// token, and a request never answered online gets none.
func TestTokenOnlineThenOffline(t *testing.T) {
	h := newHarness(t)
	c := NewClient(h.mm.Store(), h.bus, model.EdgedModuleName, 2*time.Second)
	h.setOnline(true)

	web, db := tokenRequest("web", "u1", 3607), tokenRequest("db", "u2", 3607)
	tokens := map[string]string{}
	for _, tr := range []*authenticationv1.TokenRequest{web, db} {
		res := askToken(c, "default", tr)
		up := h.recv(model.EdgeHubModuleName)
		if up.Operation() != model.QueryOperation || up.Resource() != "ns/serviceaccounttoken/default" || up.Source() != model.EdgedModuleName {
			t.Fatalf("sent up %s %s from %s", up.Operation(), up.Resource(), up.Source())
		}
		sent := &authenticationv1.TokenRequest{}
		if err := up.DecodeContent(sent); err != nil || sent.Spec.BoundObjectRef.Name != tr.Spec.BoundObjectRef.Name {
			t.Fatalf("query content %s (%v), want the TokenRequest", up.ContentText(), err)
		}
		token := "jwt-of-" + tr.Spec.BoundObjectRef.Name
		tokens[tr.Spec.BoundObjectRef.Name] = token
		reply := model.NewRespByMessage(&up, issued(tr, token))
		reply.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, up.Resource(), model.ResponseOperation)
		h.bus.SendResp(*reply)
		r := <-res
		if r.err != nil || r.tr.Status.Token != token {
			t.Fatalf("token for %s: %+v, %v", tr.Spec.BoundObjectRef.Name, r.tr, r.err)
		}
		h.none(model.EdgeHubModuleName) // no ack of a no-ack reply
	}
	for _, tr := range []*authenticationv1.TokenRequest{web, db} {
		if v, ok := h.row(TokenKey("default", "ns", tr)); !ok || !strings.Contains(v, tokens[tr.Spec.BoundObjectRef.Name]) {
			t.Fatalf("kept token for %s: %q (present %v)", tr.Spec.BoundObjectRef.Name, v, ok)
		}
	}

	h.setOnline(false)
	for _, tr := range []*authenticationv1.TokenRequest{web, db} {
		got, err := c.ServiceAccountToken("ns", "default", tr)
		if err != nil || got.Status.Token != tokens[tr.Spec.BoundObjectRef.Name] {
			t.Fatalf("offline token for %s: %+v, %v", tr.Spec.BoundObjectRef.Name, got, err)
		}
	}
	h.none(model.EdgeHubModuleName)
	if _, err := c.ServiceAccountToken("ns", "default", tokenRequest("web", "u1", 600)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("offline, a request never answered: %v, want ErrNotFound", err)
	}
}

// TestTokenRefused: the API server's refusal, as cloudcore forwards it,
// is the client's error; nothing is kept.
func TestTokenRefused(t *testing.T) {
	h := newHarness(t)
	c := NewClient(h.mm.Store(), h.bus, model.EdgedModuleName, 2*time.Second)
	h.setOnline(true)
	tr := tokenRequest("web", "u1", 3607)
	res := askToken(c, "ghost", tr)
	up := h.recv(model.EdgeHubModuleName)
	refusal := apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, "ghost")
	reply := model.NewRespByMessage(&up, refusal)
	reply.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, up.Resource(), model.ResponseOperation)
	h.bus.SendResp(*reply)
	r := <-res
	if !apierrors.IsNotFound(r.err) || !strings.Contains(r.err.Error(), `serviceaccounts "ghost" not found`) {
		t.Fatalf("refused token: %v, want the API server's NotFound", r.err)
	}
	if _, ok := h.row(TokenKey("ghost", "ns", tr)); ok {
		t.Fatal("a refusal was kept as a token")
	}
}

// TestTokenBadRequest: a token query without a TokenRequest is refused
// with the problem named, and nothing goes to the cloud.
func TestTokenBadRequest(t *testing.T) {
	h := newHarness(t)
	h.setOnline(true)
	for _, tc := range []struct {
		resource string
		content  any
		want     string
	}{
		{"ns/serviceaccounttoken/default", "not a token request", "content is not a TokenRequest"},
		{"ns/serviceaccounttoken", tokenRequest("web", "u1", 600), "a token request names its service account"},
	} {
		q := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, tc.resource, model.QueryOperation).FillBody(tc.content)
		resp, err := h.bus.SendSync(model.MetaManagerModuleName, *q, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Operation() != model.ResponseErrorOperation || !strings.Contains(resp.ContentText(), tc.want) {
			t.Errorf("%s: reply %s %q, want an error saying %q", tc.resource, resp.Operation(), resp.ContentText(), tc.want)
		}
	}
	h.none(model.EdgeHubModuleName)
}

// TestTokensGoWithTheirPod: the cloud's deletion of a pod removes the
// tokens bound to it and no others.
func TestTokensGoWithTheirPod(t *testing.T) {
	h := newHarness(t)
	web, db := tokenRequest("web", "u1", 3607), tokenRequest("db", "u2", 3607)
	rows := []Meta{{Key: "ns/pod/web", Type: model.ResourceTypePod, Value: `{"metadata":{"name":"web","uid":"u1"}}`}}
	for _, tr := range []*authenticationv1.TokenRequest{web, db} {
		rows = append(rows, Meta{Key: TokenKey("default", "ns", tr), Type: model.ResourceTypeServiceAccountToken, Value: mustJSON(t, issued(tr, "t"))})
	}
	if err := h.mm.Store().Save(rows...); err != nil {
		t.Fatal(err)
	}
	del := model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "ns/pod/web", model.DeleteOperation).
		FillBody(map[string]any{"metadata": map[string]any{"name": "web", "uid": "u1"}})
	h.toMeta(del)
	checkAck(t, h.recv(model.EdgeHubModuleName), del)
	h.recv(model.EdgedModuleName)
	if _, ok := h.row(TokenKey("default", "ns", web)); ok {
		t.Error("web's token outlived web")
	}
	if _, ok := h.row(TokenKey("default", "ns", db)); !ok {
		t.Error("db's token went with web")
	}
}
