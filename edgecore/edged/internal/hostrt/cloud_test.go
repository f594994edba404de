package hostrt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/model"
)

// cloud stands where metamanager and the cloud behind it stand for edged:
// it keeps the pods bound to the node, answers the start-up list, applies
// the status patches as the API server does, and completes a deletion the
// edge confirms by sending the pod's delete, as cloudcore does.
type cloud struct {
	mu   sync.Mutex
	pods map[string]*v1.Pod // by name, namespace "default"
	// gone are the pods whose deletion the edge confirmed, as they were,
	// and when it confirmed.
	gone        map[string]*v1.Pod
	confirmedAt map[string]time.Time
	// running is when a status patch first showed every container of
	// the pod running.
	running map[string]time.Time
}

func newCloud() *cloud {
	return &cloud{pods: map[string]*v1.Pod{}, gone: map[string]*v1.Pod{}, confirmedAt: map[string]time.Time{}, running: map[string]time.Time{}}
}

// serve answers edged's requests on b until ctx ends.
func (c *cloud) serve(ctx context.Context, b *bus.Bus) {
	for {
		msg, err := b.Receive(ctx, model.MetaManagerModuleName)
		if err != nil {
			return
		}
		reply, then := c.handle(&msg)
		b.SendResp(*model.NewRespByMessage(&msg, reply))
		if then != nil {
			b.Send(model.EdgedModuleName, *then)
		}
	}
}

// handle answers one request, and says what the cloud sends next.
func (c *cloud) handle(msg *model.Message) (reply any, then *model.Message) {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		return "OK", nil
	}
	switch {
	case res.Type == model.ResourceTypePod && msg.Operation() == model.QueryOperation:
		return c.list(), nil
	case res.Type == model.ResourceTypePodPatch && msg.Operation() == model.PatchOperation:
		pod, err := c.patch(res.Name, msg)
		if err != nil {
			return map[string]any{"Object": nil, "Err": map[string]any{"ErrStatus": map[string]any{"status": "Failure", "message": err.Error(), "code": 422}}}, nil
		}
		return map[string]any{"Object": pod, "Err": nil}, nil
	case res.Type == model.ResourceTypePod && msg.Operation() == model.DeleteOperation:
		if pod := c.confirmDeletion(res.Name); pod != nil {
			return "OK", podMessage(model.DeleteOperation, pod)
		}
	}
	return "OK", nil
}

func (c *cloud) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []string{}
	for _, p := range c.pods {
		data, _ := json.Marshal(p)
		out = append(out, string(data))
	}
	return out
}

// patch applies a status patch (a strategic-merge patch, sent as a
// string) to the stored pod.
func (c *cloud) patch(name string, msg *model.Message) (*v1.Pod, error) {
	patch, err := msg.ContentData()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pod, ok := c.pods[name]
	if !ok {
		return nil, fmt.Errorf("pod %s not found", name)
	}
	orig, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	data, err := strategicpatch.StrategicMergePatch(orig, patch, v1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("status patch of %s: %w", name, err)
	}
	updated := &v1.Pod{}
	if err := json.Unmarshal(data, updated); err != nil {
		return nil, err
	}
	c.pods[name] = updated
	if _, seen := c.running[name]; !seen && allRunning(updated) {
		c.running[name] = time.Now()
	}
	return updated, nil
}

// confirmDeletion takes the edge's confirmation of a pod being deleted:
// the pod leaves the store and is returned, to be deleted on the edge.
func (c *cloud) confirmDeletion(name string) *v1.Pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	pod, ok := c.pods[name]
	if !ok || pod.DeletionTimestamp == nil {
		return nil
	}
	delete(c.pods, name)
	c.gone[name], c.confirmedAt[name] = pod, time.Now()
	return pod
}

// put stores the pod (bound to the node, or changed by the user) and
// returns the message that tells edged.
func (c *cloud) put(p *v1.Pod, op string) *model.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.pods[p.Name]; ok && old.UID == p.UID {
		p.Status = old.Status
	}
	c.pods[p.Name] = p.DeepCopy()
	return podMessage(op, p)
}

// forget drops a pod from the store without telling edged: the cloud
// deleted it while edgecore was down.
func (c *cloud) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pods, name)
}

// pod is the stored pod, or the deleted one as the edge last reported it.
func (c *cloud) pod(name string) (*v1.Pod, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pods[name]; ok {
		return p.DeepCopy(), true
	}
	p, ok := c.gone[name]
	if ok {
		p = p.DeepCopy()
	}
	return p, ok
}

func (c *cloud) deletionConfirmedAt(name string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.confirmedAt[name]
}

func (c *cloud) runningAt(name string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.running[name]
	return at, ok
}

func podMessage(op string, p *v1.Pod) *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup,
		model.BuildResource(p.Namespace, model.ResourceTypePod, p.Name), op).FillBody(p)
}

// allRunning: every container of the pod runs.
func allRunning(p *v1.Pod) bool {
	if len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}
