package metamanager

import (
	"encoding/json"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Service account tokens (KubeEdge's serviceaccounttoken resource). edged
// asks with a query of <ns>/serviceaccounttoken/<sa> whose content is the
// TokenRequest (audiences, lifetime, the pod it is bound to). Online, the
// cloud makes the TokenRequest to the API server and answers with its
// result or its refusal. The answer is kept under a key made of the whole
// request (KubeEdge's KeyFunc), so that the tokens of two pods, audiences
// or lifetimes of one service account do not replace each other, and
// offline the same request is answered with the token kept for it.
//
// cloudcore sends these answers on its no-ack queue: nothing waits for the
// edge to acknowledge them, so the edge does not.

// TokenKey is the key of a token request for service account name in
// namespace: KubeEdge's metaclient KeyFunc, the kubelet token manager's
// cache key. It names no secret.
func TokenKey(name, namespace string, tr *authenticationv1.TokenRequest) string {
	var exp int64
	if tr.Spec.ExpirationSeconds != nil {
		exp = *tr.Spec.ExpirationSeconds
	}
	var ref authenticationv1.BoundObjectReference
	if tr.Spec.BoundObjectRef != nil {
		ref = *tr.Spec.BoundObjectRef
	}
	return fmt.Sprintf("%q/%q/%#v/%#v/%#v", name, namespace, tr.Spec.Audiences, exp, ref)
}

// storeKey is where the object of a request is kept: its resource string,
// or for a token request the TokenKey of the request it carries.
func storeKey(msg *model.Message, res model.Resource) (string, error) {
	if res.Type != model.ResourceTypeServiceAccountToken {
		return res.String(), nil
	}
	if res.Name == "" {
		return "", fmt.Errorf("%s: a token request names its service account (<ns>/%s/<name>)", msg.Resource(), res.Type)
	}
	tr := &authenticationv1.TokenRequest{}
	if err := msg.DecodeContent(tr); err != nil {
		return "", fmt.Errorf("%s: content is not a TokenRequest: %w", msg.Resource(), err)
	}
	return TokenKey(res.Name, res.Namespace, tr), nil
}

// noAck reports the cloud replies cloudhub sends on its no-ack queue, which
// the edge does not acknowledge.
func noAck(resource string) bool {
	return model.ResourceType(resource) == model.ResourceTypeServiceAccountToken
}

// tokenKeysBoundTo returns the keys of the stored tokens bound to the pod
// with uid, which go when the pod goes (KubeEdge's
// DeleteServiceAccountToken).
func (s *Store) tokenKeysBoundTo(uid string) ([]string, error) {
	rows, err := s.ListByType(model.ResourceTypeServiceAccountToken)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, r := range rows {
		var tr authenticationv1.TokenRequest
		if json.Unmarshal([]byte(r.Value), &tr) != nil || tr.Spec.BoundObjectRef == nil {
			continue
		}
		if string(tr.Spec.BoundObjectRef.UID) == uid {
			keys = append(keys, r.Key)
		}
	}
	return keys, nil
}

// ServiceAccountToken asks for a token of service account name in
// namespace as KubeEdge's edged does, through metamanager: the cloud when
// connected (it makes the TokenRequest to the API server), else the token
// kept for the same request. The API server's refusal comes back as its
// StatusError (apierrors.IsNotFound and the like work on it). A request
// with no token kept while offline is ErrNotFound.
func (c *Client) ServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	resource := model.BuildResource(namespace, model.ResourceTypeServiceAccountToken, name)
	q := model.NewMessage("").BuildRouter(c.source, model.MetaGroup, resource, model.QueryOperation).FillBody(tr)
	resp, err := c.bus.SendSync(model.MetaManagerModuleName, *q, c.timeout)
	if err != nil {
		return nil, fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	if resp.Operation() == model.ResponseErrorOperation {
		return nil, fmt.Errorf("token for %s/%s: %s", namespace, name, resp.ContentText())
	}
	raw, err := tokenReply(&resp)
	if err != nil {
		return nil, fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	out := &authenticationv1.TokenRequest{}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		return nil, fmt.Errorf("token for %s/%s: reply is not a TokenRequest: %w", namespace, name, err)
	}
	if out.Status.Token == "" {
		return nil, fmt.Errorf("token for %s/%s: the reply carries no token", namespace, name)
	}
	return out, nil
}

// tokenReply is the TokenRequest JSON of a reply: the cloud's object, or
// the one value a local answer lists. The cloud's refusal is returned as
// the StatusError it carries.
func tokenReply(resp *model.Message) (string, error) {
	if obj, ok := objectOf(resp); ok {
		return obj, nil
	}
	data, err := resp.ContentData()
	if err != nil {
		return "", err
	}
	if err := statusErrorOf(data); err != nil {
		return "", err
	}
	var values []string
	if json.Unmarshal(data, &values) != nil {
		return "", fmt.Errorf("unexpected reply %s", resp.ContentText())
	}
	if len(values) == 0 {
		return "", fmt.Errorf("the cloud is not connected and no token was kept for this request: %w", ErrNotFound)
	}
	return values[0], nil
}

// statusErrorOf returns the API error a cloud reply body carries
// ({"ErrStatus":…}, as cloudcore marshals a StatusError), or nil.
func statusErrorOf(data []byte) error {
	var body struct {
		ErrStatus *metav1.Status `json:"ErrStatus"`
	}
	if json.Unmarshal(data, &body) != nil || body.ErrStatus == nil {
		return nil
	}
	return &apierrors.StatusError{ErrStatus: *body.ErrStatus}
}
