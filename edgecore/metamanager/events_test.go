package metamanager

import (
	"testing"

	"github.com/edgegate/edgegate/edgecore/model"
)

// edged's events go to the cloud as they come, whatever the operation
// and whether or not the link is up (edgehub queues them then), as
// KubeEdge's metamanager sends them: nothing is stored, nothing answered.
func TestEventWritesGoStraightUpUnstored(t *testing.T) {
	for _, online := range []bool{true, false} {
		for _, op := range []string{model.InsertOperation, model.UpdateOperation, model.PatchOperation} {
			h := newHarness(t)
			h.setOnline(online)
			content := map[string]any{"event": map[string]any{"metadata": map[string]any{"name": "web.1", "namespace": "shop"}}, "patchData": `{"count":2}`}
			ev := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, "shop/event/web.1", op).FillBody(content)
			h.toMeta(ev)
			up := h.recv(model.EdgeHubModuleName)
			if up.ID() != ev.ID() || up.Operation() != op || up.Resource() != "shop/event/web.1" || up.ContentText() != ev.ContentText() {
				t.Fatalf("online %v, %s: sent up %+v, want the event write itself", online, op, up)
			}
			if v, ok := h.row("shop/event/web.1"); ok {
				t.Errorf("online %v, %s: event stored: %s", online, op, v)
			}
			h.none(model.EdgedModuleName)
			h.none(model.EdgeHubModuleName)
		}
	}
}
