package testcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// EventRefusal is an edge's event write the API server (or the cloud,
// for content that does not decode) refused. cloudcore only logs these;
// the test cloud keeps them for tests.
type EventRefusal struct {
	Node, Operation, Resource string
	Err                       string
}

// eventPatch is KubeEdge's EventPatchInfo, what an edge's event patch
// carries.
type eventPatch struct {
	Event *v1.Event `json:"event"`
	Data  string    `json:"patchData"`
}

// applyEvent writes an edge's event to the API server as cloudcore's
// edgecontroller does (upstream.go processEvent): an insert creates the
// event, an update replaces it, a patch applies patchData as a
// strategic-merge patch to the event it names, each in the event's own
// namespace. No reply is sent.
func (c *Cloud) applyEvent(ctx context.Context, node string, msg *model.Message) {
	err := c.writeEvent(ctx, msg)
	if err == nil {
		return
	}
	klog.Errorf("testcloud: %s: message %s process failure, %s %s: %v", node, msg.ID(), msg.Operation(), msg.Resource(), err)
	c.mu.Lock()
	c.eventRefusals = append(c.eventRefusals, EventRefusal{Node: node, Operation: msg.Operation(), Resource: msg.Resource(), Err: err.Error()})
	c.notifyLocked()
	c.mu.Unlock()
}

func (c *Cloud) writeEvent(ctx context.Context, msg *model.Message) error {
	data, err := msg.ContentData()
	if err != nil {
		return fmt.Errorf("get event data: %w", err)
	}
	core := c.opts.Kube.CoreV1()
	switch op := msg.Operation(); op {
	case model.InsertOperation, model.UpdateOperation:
		evt := &v1.Event{}
		if err := json.Unmarshal(data, evt); err != nil {
			return fmt.Errorf("unmarshal %s event: %w", op, err)
		}
		if op == model.InsertOperation {
			_, err = core.Events(evt.Namespace).CreateWithEventNamespaceWithContext(ctx, evt)
		} else {
			_, err = core.Events(evt.Namespace).UpdateWithEventNamespaceWithContext(ctx, evt)
		}
	case model.PatchOperation:
		info := &eventPatch{}
		if err := json.Unmarshal(data, info); err != nil {
			return fmt.Errorf("unmarshal patch event: %w", err)
		}
		if info.Event == nil {
			// cloudcore would dereference the missing event and crash.
			return errors.New("patch event: no event")
		}
		_, err = core.Events(info.Event.Namespace).PatchWithEventNamespaceWithContext(ctx, info.Event, []byte(info.Data))
	default:
		return fmt.Errorf("event operation %s unsupported", op)
	}
	c.countWrite()
	return err
}

// EventRefusals are the event writes refused so far, oldest first.
func (v *View) EventRefusals() []EventRefusal { return v.c.eventRefusals }
