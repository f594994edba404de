package events

import (
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Write is one event write for the cloud, as KubeEdge's edged hands it to
// metamanager: an insert of <namespace>/event/<name> with the event, or a
// patch with {"event": <event>, "patchData": <strategic-merge patch>}
// (KubeEdge's EventPatchInfo). cloudcore creates or patches the event in
// the API server and sends no reply.
type Write struct {
	Operation string // model.InsertOperation or model.PatchOperation
	Resource  string // <namespace>/event/<name>
	Content   json.RawMessage
}

// patchInfo is KubeEdge's EventPatchInfo (common/types).
type patchInfo struct {
	Event *v1.Event `json:"event"`
	Data  string    `json:"patchData"`
}

// repeatPatch is the patch client-go's event logger sends for a repeat
// (a strategic two-way merge from the event with count, lastTimestamp and
// message cleared): those three fields, in that order.
type repeatPatch struct {
	Count         int32       `json:"count"`
	LastTimestamp metav1.Time `json:"lastTimestamp"`
	Message       string      `json:"message,omitempty"`
}

// encode makes the write of ev: a create, or a patch of a repeat.
func encode(ev *v1.Event, patch bool) (Write, error) {
	w := Write{
		Operation: model.InsertOperation,
		Resource:  model.BuildResource(ev.Namespace, model.ResourceTypeEvent, ev.Name),
	}
	var content any = ev
	if patch {
		data, err := json.Marshal(repeatPatch{Count: ev.Count, LastTimestamp: ev.LastTimestamp, Message: ev.Message})
		if err != nil {
			return Write{}, fmt.Errorf("event %s/%s: patch: %w", ev.Namespace, ev.Name, err)
		}
		w.Operation = model.PatchOperation
		content = patchInfo{Event: ev, Data: string(data)}
	}
	var err error
	if w.Content, err = json.Marshal(content); err != nil {
		return Write{}, fmt.Errorf("event %s/%s: %w", ev.Namespace, ev.Name, err)
	}
	return w, nil
}
