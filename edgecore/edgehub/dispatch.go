package edgehub

import (
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Cloud operations edgehub passes to the meta and twin groups. Anything else
// in those groups is dropped and counted: it cannot be from a compatible
// cloudcore and no module would know what to do with it.
var knownOperations = map[string]bool{
	model.InsertOperation: true, model.DeleteOperation: true, model.QueryOperation: true,
	model.UpdateOperation: true, model.PatchOperation: true, model.UploadOperation: true,
	model.ResponseOperation: true, model.ResponseErrorOperation: true,
	"get": true, "applicationResponse": true, "unhold-upgrade": true,
	"createvolume": true, "deletevolume": true, "controllerpublishvolume": true, "controllerunpublishvolume": true,
}

// Groups told about cloud connection changes, as KubeEdge's edgehub does,
// and edgegate's node status reporter, which registers the node the
// moment the link is up.
var connectionGroups = []string{model.TwinGroup, model.MetaGroup, model.BusGroup, "taskmanager", model.NodeStatusGroup}

// dispatch routes one cloud message as KubeEdge's message handlers do
// (§3.6): replies resolve pending SendSync calls, the rest go to the group
// that owns the route group.
func (h *EdgeHub) dispatch(msg *model.Message) {
	switch msg.Router.Group {
	case model.ResourceGroup, model.FuncGroup:
		if !h.knownOp(msg) {
			return
		}
		if msg.Header.ParentID != "" {
			h.resolve(msg)
			return
		}
		h.toGroup(model.MetaGroup, msg)
	case model.TwinGroup:
		if !h.knownOp(msg) {
			return
		}
		h.toGroup(model.TwinGroup, msg)
	case model.UserGroup:
		switch {
		case msg.Header.ParentID != "":
			h.resolve(msg)
		case msg.Router.Source == model.RouterEventBusSource:
			h.toModule(model.EventBusModuleName, msg)
		case msg.Router.Source == model.RouterServiceBusSource:
			h.toModule(model.ServiceBusModuleName, msg)
		default:
			h.unroutable(msg, "user-group message from unknown source "+msg.Router.Source)
		}
	case "taskmanager":
		h.toModule("taskmanager", msg)
	default:
		h.unroutable(msg, "unknown group "+quote(msg.Router.Group))
	}
}

func quote(s string) string { return "\"" + s + "\"" }

func (h *EdgeHub) knownOp(msg *model.Message) bool {
	if knownOperations[msg.Router.Operation] {
		return true
	}
	h.unroutable(msg, "unknown operation "+quote(msg.Router.Operation))
	return false
}

func (h *EdgeHub) unroutable(msg *model.Message, why string) {
	n := h.stats.DroppedUnroutable.Add(1)
	klog.Warningf("edgehub: dropped cloud message %s (%s %s): %s; %d unroutable messages dropped so far",
		msg.Header.ID, msg.Router.Operation, msg.Router.Resource, why, n)
}

// resolve hands a reply to whoever waits in SendSync for its parent.
func (h *EdgeHub) resolve(msg *model.Message) {
	if !h.bus.SendResp(*msg) {
		h.stats.UnmatchedResponses.Add(1)
		klog.V(2).Infof("edgehub: nobody waits for reply %s to %s (%s)", msg.Header.ID, msg.Header.ParentID, msg.Router.Resource)
	}
}

func (h *EdgeHub) toGroup(group string, msg *model.Message) {
	if err := h.bus.SendToGroup(group, *msg); err != nil {
		h.unroutable(msg, err.Error())
	}
}

func (h *EdgeHub) toModule(module string, msg *model.Message) {
	if err := h.bus.Send(module, *msg); err != nil {
		h.unroutable(msg, err.Error())
	}
}

// announce tells the local groups whether the cloud is reachable.
func (h *EdgeHub) announce(content string) {
	for _, g := range connectionGroups {
		if len(h.bus.Modules(g)) == 0 {
			continue
		}
		m := model.NewMessage("").BuildRouter(model.SourceNodeConnection, model.ResourceGroup,
			model.ResourceTypeNodeConnection, model.OperationNodeConnection).FillBody(content)
		if err := h.bus.SendToGroup(g, *m); err != nil {
			klog.Warningf("edgehub: telling group %s %s: %v", g, content, err)
		}
	}
}
