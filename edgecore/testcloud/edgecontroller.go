package testcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// edgeMappingCloudKey is the node annotation cloudcore sets to its own
// address when it creates a node (common/constants EdgeMappingCloudKey).
const edgeMappingCloudKey = "cloudcore"

// apiTimeout bounds one apiserver call made for an edge request.
const apiTimeout = 10 * time.Second

// objectResp is edgecontroller's ObjectResp: Go field names, no JSON tags,
// Err an error (a *StatusError marshals as {"ErrStatus":…}).
type objectResp struct {
	Object any
	Err    error
}

// handleEdgeRequest applies an edge request to the Kubernetes API server
// exactly as cloudcore's edgecontroller upstream does (cloud/pkg/
// edgecontroller/controller/upstream.go, v1.23), and returns the reply it
// would send, or nil where cloudcore sends none. The apiserver decides what
// is accepted; nothing here is more lenient than cloudcore.
func (c *Cloud) handleEdgeRequest(node string, msg *model.Message) *model.Message {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		klog.Warningf("testcloud: %s: parse message %s resource %q: %v", node, msg.ID(), msg.Resource(), err)
		return nil
	}
	if c.opts.Kube == nil {
		return response(msg, objectResp{Err: &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonServiceUnavailable, Code: 503,
			Message: "the test cloud runs without a Kubernetes API server",
		}}}, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	op := msg.Operation()
	switch {
	case res.Type == model.ResourceTypeNode && op == model.InsertOperation:
		return c.createNode(ctx, node, res, msg)
	case res.Type == model.ResourceTypeNode && op == model.QueryOperation:
		return c.query(ctx, res, msg)
	case res.Type == model.ResourceTypeNode && op == model.UpdateOperation:
		return c.updateNode(ctx, res, msg)
	case res.Type == model.ResourceTypeNodePatch:
		return c.patchStatus(ctx, res, msg, true)
	case res.Type == model.ResourceTypePodPatch:
		return c.patchStatus(ctx, res, msg, false)
	case res.Type == model.ResourceTypePod && op == model.DeleteOperation:
		return c.deletePod(ctx, res, msg)
	case res.Type == model.ResourceTypePod && op == model.InsertOperation:
		return c.createPod(ctx, res, msg)
	case res.Type == model.ResourceTypeLease && (op == model.InsertOperation || op == model.UpdateOperation):
		return c.writeLease(ctx, res, msg)
	case res.Type == model.ResourceTypeLease && op == model.QueryOperation:
		obj, err := c.get(ctx, res)
		return response(msg, objectResp{Object: obj, Err: err}, "")
	case res.Type == model.ResourceTypeEvent:
		c.applyEvent(ctx, node, msg)
		return nil
	case res.Type == model.ResourceTypeServiceAccountToken && op == model.QueryOperation:
		return c.serviceAccountToken(ctx, res, msg)
	case op == model.QueryOperation && (res.Type == model.ResourceTypeConfigmap || res.Type == model.ResourceTypeSecret ||
		res.Type == model.ResourceTypePersistentVolume || res.Type == model.ResourceTypePersistentVolumeClaim):
		return c.query(ctx, res, msg)
	}
	klog.Errorf("testcloud: %s: message %s, resource type %s operation %s unsupported", node, msg.ID(), res.Type, op)
	return nil
}

// response is edgecontroller's reply: parent = the request, the request's
// (trimmed) resource, operation "response", the resourceVersion when set.
func response(req *model.Message, content any, rv string) *model.Message {
	resp := model.NewMessage(req.ID())
	resp.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, req.Resource(), model.ResponseOperation)
	resp.SetResourceVersion(rv)
	resp.Content = wire(content)
	return resp
}

// wire turns content into the JSON a cloudcore reply carries, so the
// message holds exactly what the edge will read; content that does not
// encode becomes a text saying so.
func wire(content any) json.RawMessage {
	b, err := json.Marshal(content)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("marshal reply: %v", err))
	}
	return b
}

// errorReply is cloudcore's nodeMsgResponse: a text body on the node
// resource, sent when the request content does not decode.
func errorReply(req *model.Message, res model.Resource, text string) *model.Message {
	klog.Error(text)
	resp := model.NewMessage(req.ID())
	resp.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup,
		model.BuildResource(res.Namespace, model.ResourceTypeNode, res.Name), model.ResponseOperation)
	resp.Content = wire(text)
	return resp
}

func decodeContent(msg *model.Message, into any) error {
	data, err := msg.ContentData()
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

// createNode creates the node as cloudcore's createNode: labels under
// kubernetes.io are held back and added by a merge patch after the create
// (the NodeRestriction admission plugin forbids a node setting them), and
// the cloudcore annotation is set.
func (c *Cloud) createNode(ctx context.Context, node string, res model.Resource, msg *model.Message) *model.Message {
	n := &v1.Node{}
	if err := decodeContent(msg, n); err != nil {
		return errorReply(msg, res, fmt.Sprintf("message: %s process failure, unmarshal marshaled message content with error: %v", msg.ID(), err))
	}
	reserved := map[string]string{}
	for k, v := range n.Labels {
		prefix, _, ok := strings.Cut(k, "/")
		if ok && (prefix == "kubernetes.io" || strings.HasSuffix(prefix, ".kubernetes.io")) {
			reserved[k] = v
			delete(n.Labels, k)
		}
	}
	n.Name = res.Name
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[edgeMappingCloudKey] = "127.0.0.1"
	nodes := c.opts.Kube.CoreV1().Nodes()
	created, err := nodes.Create(ctx, n, metav1.CreateOptions{})
	if err == nil && len(reserved) > 0 {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": reserved}})
		created, err = nodes.Patch(ctx, res.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	c.countWrite()
	if err != nil {
		klog.Errorf("testcloud: create node %s error: %v , register node failed", res.Name, err)
	} else {
		c.trackNode(node)
	}
	return response(msg, objectResp{Object: created, Err: err}, "")
}

// updateNode merges labels and annotations into the node; cloudcore sends
// no reply when that fails.
func (c *Cloud) updateNode(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	req := &v1.Node{}
	if err := decodeContent(msg, req); err != nil {
		klog.Warningf("testcloud: message %s: unmarshal node: %v", msg.ID(), err)
		return nil
	}
	nodes := c.opts.Kube.CoreV1().Nodes()
	n, err := nodes.Get(ctx, res.Name, metav1.GetOptions{})
	if err != nil {
		klog.Warningf("testcloud: message %s: get node %s: %v", msg.ID(), res.Name, err)
		return nil
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range req.Labels {
		n.Labels[k] = v
	}
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	for k, v := range req.Annotations {
		n.Annotations[k] = v
	}
	body, _ := json.Marshal(n)
	patched, err := nodes.Patch(ctx, n.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	c.countWrite()
	if err != nil {
		klog.Warningf("testcloud: message %s: update node %s: %v", msg.ID(), res.Name, err)
		return nil
	}
	return response(msg, model.AckContent, patched.ResourceVersion)
}

// patchStatus applies the edge's strategic-merge patch to the status
// subresource of the node or pod.
func (c *Cloud) patchStatus(ctx context.Context, res model.Resource, msg *model.Message, isNode bool) *model.Message {
	patch, err := msg.ContentData()
	if err != nil {
		klog.Warningf("testcloud: message %s: patch content: %v", msg.ID(), err)
		return nil
	}
	var obj interface{ GetResourceVersion() string }
	if isNode {
		var n *v1.Node
		n, err = c.opts.Kube.CoreV1().Nodes().Patch(ctx, res.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		obj = n
	} else {
		var p *v1.Pod
		p, err = c.opts.Kube.CoreV1().Pods(res.Namespace).Patch(ctx, res.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		obj = p
	}
	if err != nil {
		klog.Errorf("testcloud: message %s process failure, patch %s failed with error: %v, namespace: %s, name: %s", msg.ID(), res.Type, err, res.Namespace, res.Name)
	}
	c.countWrite()
	return response(msg, objectResp{Object: obj, Err: err}, obj.GetResourceVersion())
}

// deletePod confirms the edge's deletion of a pod: the content is
// DeleteOptions, or (older edges) the pod UID as a string.
func (c *Cloud) deletePod(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	opts := metav1.DeleteOptions{}
	if uid, ok := msg.ContentString(); ok {
		var zero int64
		opts.GracePeriodSeconds = &zero
		opts.Preconditions = metav1.NewUIDPreconditions(uid)
	} else if err := decodeContent(msg, &opts); err != nil {
		klog.Warningf("testcloud: failed to unmarshal deletion options, pod %s/%s: %v", res.Namespace, res.Name, err)
		return nil
	}
	err := c.opts.Kube.CoreV1().Pods(res.Namespace).Delete(ctx, res.Name, opts)
	c.countWrite()
	if err != nil && !apierrors.IsNotFound(err) && !strings.Contains(err.Error(), "The object might have been deleted and then recreated") {
		klog.Warningf("testcloud: failed to delete pod %s/%s: %v", res.Namespace, res.Name, err)
		return response(msg, err, "")
	}
	return response(msg, model.AckContent, "")
}

func (c *Cloud) createPod(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	pod := &v1.Pod{}
	if err := decodeContent(msg, pod); err != nil {
		klog.Errorf("testcloud: unmarshal pod request failed with error: %v", err)
		return nil
	}
	created, err := c.opts.Kube.CoreV1().Pods(res.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	c.countWrite()
	return response(msg, objectResp{Object: created, Err: err}, created.ResourceVersion)
}

// writeLease creates or updates the lease as the edge sent it.
func (c *Cloud) writeLease(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	lease := &coordinationv1.Lease{}
	if err := decodeContent(msg, lease); err != nil {
		return errorReply(msg, res, fmt.Sprintf("message: %s process failure, unmarshal message content with error: %v", msg.ID(), err))
	}
	leases := c.opts.Kube.CoordinationV1().Leases(res.Namespace)
	var out *coordinationv1.Lease
	var err error
	if msg.Operation() == model.InsertOperation {
		out, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			klog.Errorf("testcloud: create lease %s failed, error: %v", res.Name, err)
		}
	} else {
		out, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		if err != nil {
			klog.Errorf("testcloud: Update lease %s failed, error: %v", res.Name, err)
		}
	}
	c.countWrite()
	return response(msg, objectResp{Object: out, Err: err}, "")
}

// query answers as cloudcore's queryInner: the object itself with its
// resourceVersion, or the API error as the body.
func (c *Cloud) query(ctx context.Context, res model.Resource, msg *model.Message) *model.Message {
	obj, err := c.get(ctx, res)
	if err != nil {
		klog.Warningf("testcloud: message %s process failure, %v", msg.ID(), err)
		return response(msg, err, "")
	}
	return response(msg, obj, obj.(metav1.Object).GetResourceVersion())
}

// get reads one object as cloudcore's kubeClientGet does, with its type
// meta set (util.SetMetaType). A missing object is reported the way
// cloudcore's listers report it.
func (c *Cloud) get(ctx context.Context, res model.Resource) (any, error) {
	core := c.opts.Kube.CoreV1()
	var (
		obj  any
		err  error
		kind string
		gr   schema.GroupResource
	)
	switch res.Type {
	case model.ResourceTypeConfigmap:
		obj, err = core.ConfigMaps(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "ConfigMap", v1.Resource("configmap")
	case model.ResourceTypeSecret:
		obj, err = core.Secrets(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "Secret", v1.Resource("secret")
	case model.ResourceTypeNode:
		obj, err = core.Nodes().Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "Node", v1.Resource("node")
	case model.ResourceTypePersistentVolume:
		obj, err = core.PersistentVolumes().Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "PersistentVolume", v1.Resource("persistentvolume")
	case model.ResourceTypePersistentVolumeClaim:
		obj, err = core.PersistentVolumeClaims(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "PersistentVolumeClaim", v1.Resource("persistentvolumeclaim")
	case model.ResourceTypeLease:
		obj, err = c.opts.Kube.CoordinationV1().Leases(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		kind, gr = "Lease", coordinationv1.Resource("lease")
	default:
		return nil, fmt.Errorf("wrong query type")
	}
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewNotFound(gr, res.Name)
	}
	if err != nil {
		return nil, err
	}
	apiVersion := "v1"
	if res.Type == model.ResourceTypeLease {
		apiVersion = coordinationv1.SchemeGroupVersion.String()
	}
	setTypeMeta(obj, apiVersion, kind)
	return obj, nil
}

func setTypeMeta(obj any, apiVersion, kind string) {
	if o, ok := obj.(interface {
		GetObjectKind() schema.ObjectKind
	}); ok {
		o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	}
}
