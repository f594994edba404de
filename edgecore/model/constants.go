package model

// Operations (route.operation), as in KubeEdge's beehive model and
// edge/pkg/common/message.
const (
	InsertOperation        = "insert"
	DeleteOperation        = "delete"
	QueryOperation         = "query"
	UpdateOperation        = "update"
	PatchOperation         = "patch"
	UploadOperation        = "upload"
	ResponseOperation      = "response"
	ResponseErrorOperation = "error"

	ConnectOperation     = "connect"
	SubscribeOperation   = "subscribe"
	UnsubscribeOperation = "unsubscribe"
	MessageOperation     = "message"
	PublishOperation     = "publish"
	GetResultOperation   = "get_result"
	KeepaliveOperation   = "keepalive"
	StartOperation       = "start"
	StopOperation        = "stop"
)

// Resource types (the <type> segment of a resource string).
const (
	ResourceTypePod                   = "pod"
	ResourceTypeEvent                 = "event"
	ResourceTypeConfigmap             = "configmap"
	ResourceTypeServiceAccountToken   = "serviceaccounttoken"
	ResourceTypeSecret                = "secret"
	ResourceTypeNode                  = "node"
	ResourceTypePodlist               = "podlist"
	ResourceTypePodStatus             = "podstatus"
	ResourceTypePodPatch              = "podpatch"
	ResourceTypeNodeStatus            = "nodestatus"
	ResourceTypeNodePatch             = "nodepatch"
	ResourceTypeRule                  = "rule"
	ResourceTypeRuleEndpoint          = "ruleendpoint"
	ResourceTypeRuleStatus            = "rulestatus"
	ResourceTypeLease                 = "lease"
	ResourceTypeServiceAccountAccess  = "serviceaccountaccess"
	ResourceTypeCSR                   = "certificatesigningrequest"
	ResourceTypeK8sCA                 = "k8s/ca.crt"
	ResourceTypePersistentVolume      = "persistentvolume"
	ResourceTypePersistentVolumeClaim = "persistentvolumeclaim"
	ResourceTypeVolumeAttachment      = "volumeattachment"
	ResourceTypeService               = "service"
	ResourceTypeEndpoints             = "endpoints"
)

// Cloud connection notices that edgehub publishes to the local groups.
const (
	SourceNodeConnection       = "edgehub"
	ResourceTypeNodeConnection = "node/connection"
	OperationNodeConnection    = "connect"
	CloudConnected             = "cloud_connected"
	CloudDisconnected          = "cloud_disconnected"
)

// Replies.
const (
	// AckContent is the body of an ack to a cloud message.
	AckContent = "OK"
	// DefaultNamespace is where nodes are registered.
	DefaultNamespace = "default"
	// NodeLeaseNamespace holds node leases.
	NodeLeaseNamespace = "kube-node-lease"
)
