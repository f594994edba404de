package testcloud

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// serviceAccountToken answers a token query as cloudcore's
// getServiceAccountToken (edgecontroller upstream, queryInner): the
// content is the TokenRequest, made to the API server for the service
// account <name> in <ns>; the reply is the issued TokenRequest with its
// type meta, or the error as the body (a refusal marshals as
// {"ErrStatus":…}), also for a service account that does not exist.
// cloudhub sends it on its no-ack queue (needsAck).
func (c *Cloud) serviceAccountToken(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	tr := &authenticationv1.TokenRequest{}
	if err := decodeContent(msg, tr); err != nil {
		klog.Errorf("testcloud: unmarshal token request failed err %v", err)
		return response(msg, err, "")
	}
	issued, err := c.opts.Kube.CoreV1().ServiceAccounts(res.Namespace).CreateToken(ctx, res.Name, tr, metav1.CreateOptions{})
	c.countWrite()
	if err != nil {
		klog.Warningf("testcloud: message %s process failure with error: apiserver get service account token failed: %v, namespace: %s, name: %s", msg.ID(), err, res.Namespace, res.Name)
		return response(msg, err, "")
	}
	setTypeMeta(issued, authenticationv1.SchemeGroupVersion.String(), "TokenRequest")
	return response(msg, issued, issued.ResourceVersion)
}
