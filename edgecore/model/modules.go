package model

// Edge module names (Module.Name), as in KubeEdge's
// edge/pkg/common/modules/names.go. edgehub's bus name is "websocket".
const (
	EdgeHubModuleName     = "websocket"
	MetaManagerModuleName = "metamanager"
	EdgedModuleName       = "edged"
	TwinModuleName        = "twin"
	EventBusModuleName    = "eventbus"
	ServiceBusModuleName  = "servicebus"
	EdgeMeshModuleName    = "edgemesh"
)

// Edge module groups (Module.Group).
const (
	HubGroup   = "hub"
	MetaGroup  = "meta"
	EdgedGroup = "edged"
	TwinGroup  = "twin"
	BusGroup   = "bus"
	MeshGroup  = "mesh"
	// NodeStatusGroup is edgegate's node status reporter, the part of
	// KubeEdge's edged that registers the node and keeps it alive.
	NodeStatusGroup = "nodestatus"
)

// Route groups used inside messages.
const (
	ResourceGroup = "resource"
	FuncGroup     = "func"
	UserGroup     = "user"
)

// Cloud module names that appear in route.source on the edge.
const (
	EdgeControllerModuleName     = "edgecontroller"
	DeviceControllerModuleName   = "devicecontroller"
	DynamicControllerModuleName  = "dynamiccontroller"
	PolicyControllerModuleName   = "policycontroller"
	SyncControllerModuleName     = "synccontroller"
	CloudHubModuleName           = "cloudhub"
	TaskManagerModuleName        = "taskmanager"
	NodeUpgradeJobControllerName = "nodeupgradejobcontroller"
	RouterModuleName             = "router"
	RouterEventBusSource         = "router_eventbus"
	RouterServiceBusSource       = "router_servicebus"
)

// IsCloudSource reports whether source names a cloudcore module, i.e. the
// message came down from the cloud rather than from an edge module.
func IsCloudSource(source string) bool {
	switch source {
	case EdgeControllerModuleName, DeviceControllerModuleName, DynamicControllerModuleName,
		PolicyControllerModuleName, SyncControllerModuleName, CloudHubModuleName,
		TaskManagerModuleName, NodeUpgradeJobControllerName, RouterModuleName,
		RouterEventBusSource, RouterServiceBusSource:
		return true
	}
	return false
}
