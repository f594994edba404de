// Package config is edgecore's configuration file: KubeEdge's
// edgecore.config.kubeedge.io/v1alpha2 EdgeCore kind, with KubeEdge's field
// names and defaults for the parts edgegate uses.
package config

// APIVersion and Kind of the configuration file.
const (
	APIVersion = "edgecore.config.kubeedge.io/v1alpha2"
	Kind       = "EdgeCore"
)

// EdgeCoreConfig is the whole file.
type EdgeCoreConfig struct {
	Kind            string          `json:"kind"`
	APIVersion      string          `json:"apiVersion"`
	Database        *DataBase       `json:"database,omitempty"`
	Modules         *Modules        `json:"modules,omitempty"`
	FeatureGates    map[string]bool `json:"featureGates,omitempty"`
	EdgeCoreVersion string          `json:"edgecoreVersion,omitempty"`

	// IgnoredFields lists, as dotted paths, the KubeEdge fields the loaded
	// file set that edgegate does not use.
	IgnoredFields []string `json:"-"`
}

// DataBase says where the store lives. edgegate's store is a bbolt file;
// driverName "sqlite3", which keadm writes, is accepted and means the same
// file path with edgegate's format.
type DataBase struct {
	DriverName string `json:"driverName,omitempty"`
	AliasName  string `json:"aliasName,omitempty"`
	DataSource string `json:"dataSource,omitempty"`
}

// Modules holds one section per module.
type Modules struct {
	Edged       *Edged       `json:"edged,omitempty"`
	EdgeHub     *EdgeHub     `json:"edgeHub,omitempty"`
	EventBus    *EventBus    `json:"eventBus,omitempty"`
	MetaManager *MetaManager `json:"metaManager,omitempty"`
	ServiceBus  *ServiceBus  `json:"serviceBus,omitempty"`
	DeviceTwin  *DeviceTwin  `json:"deviceTwin,omitempty"`
	DBTest      *Toggle      `json:"dbTest,omitempty"`
	EdgeStream  *Transport   `json:"edgeStream,omitempty"`
	TaskManager *Toggle      `json:"taskManager,omitempty"`
	// EdgeMesh is edgegate's own: KubeEdge moved edgemesh out of edgecore
	// in v1.8.
	EdgeMesh *Toggle `json:"edgeMesh,omitempty"`
}

// Toggle is a module section with nothing but enable.
type Toggle struct {
	Enable bool `json:"enable"`
}

// Edged is modules.edged. KubeEdge v1.21–v1.23 inline the tailored
// kubelet flags (hostnameOverride, nodeIP, …) directly under
// modules.edged, and so does edgegate.
type Edged struct {
	Enable bool `json:"enable"`
	// ReportEvent sends the events of the node's pods and of the node
	// (Pulling, Failed, BackOff, Started, Unhealthy, NodeReady, …) to the
	// cloud. Off by default, as in KubeEdge: every file KubeEdge writes
	// says false, a gateway's link may be metered, and events are
	// best-effort extras the pod status does not depend on.
	ReportEvent bool `json:"reportEvent"`
	// TailoredKubeletConfig is a KubeletConfiguration; kept free-form so
	// files written for KubeEdge load unchanged. Kubelet reads the fields
	// edgegate uses.
	TailoredKubeletConfig map[string]any `json:"tailoredKubeletConfig,omitempty"`
	TailoredKubeletFlag
	CustomInterfaceName   string `json:"customInterfaceName,omitempty"`
	RegisterNodeNamespace string `json:"registerNodeNamespace,omitempty"`
	// UpdateStatusFile is edgegate's own: the update service's outcome
	// file, read at every node status update to report the node condition
	// EdgegateUpdate (default DefaultUpdateStatusFile). An absolute path;
	// "" reports no such condition.
	UpdateStatusFile string `json:"updateStatusFile,omitempty"`
}

// TailoredKubeletFlag holds the kubelet flags KubeEdge keeps, inlined in
// modules.edged.
type TailoredKubeletFlag struct {
	HostnameOverride string            `json:"hostnameOverride,omitempty"`
	NodeIP           string            `json:"nodeIP,omitempty"`
	RootDirectory    string            `json:"rootDirectory,omitempty"`
	PodSandboxImage  string            `json:"podSandboxImage,omitempty"`
	NodeLabels       map[string]string `json:"nodeLabels,omitempty"`
}

// EdgeHub is modules.edgeHub.
type EdgeHub struct {
	Enable             bool       `json:"enable"`
	Heartbeat          int32      `json:"heartbeat,omitempty"`
	MessageQPS         int32      `json:"messageQPS,omitempty"`
	MessageBurst       int32      `json:"messageBurst,omitempty"`
	ProjectID          string     `json:"projectID,omitempty"`
	TLSCAFile          string     `json:"tlsCaFile,omitempty"`
	TLSCertFile        string     `json:"tlsCertFile,omitempty"`
	TLSPrivateKeyFile  string     `json:"tlsPrivateKeyFile,omitempty"`
	Quic               *Transport `json:"quic,omitempty"`
	WebSocket          *WebSocket `json:"websocket,omitempty"`
	Token              string     `json:"token"`
	HTTPServer         string     `json:"httpServer,omitempty"`
	RotateCertificates bool       `json:"rotateCertificates"`
}

// Transport is a client connection section: modules.edgeHub.websocket and
// .quic, and modules.edgeStream (same fields in KubeEdge); timeouts in
// seconds.
type Transport struct {
	Enable           bool   `json:"enable"`
	HandshakeTimeout int32  `json:"handshakeTimeout,omitempty"`
	ReadDeadline     int32  `json:"readDeadline,omitempty"`
	Server           string `json:"server,omitempty"`
	WriteDeadline    int32  `json:"writeDeadline,omitempty"`
}

// WebSocket is modules.edgeHub.websocket: KubeEdge's transport fields and
// edgegate's own maxMessageSize.
type WebSocket struct {
	Transport
	// MaxMessageSize is the largest frame from the cloud edgecore takes, in
	// bytes (default 8 MiB, 64 KiB to 64 MiB). A larger frame is read,
	// dropped and counted; one over four times the limit ends the
	// connection. It bounds the memory one cloud message can take.
	MaxMessageSize int64 `json:"maxMessageSize,omitempty"`
}

// MetaManager is modules.metaManager.
type MetaManager struct {
	Enable             bool        `json:"enable"`
	ContextSendGroup   string      `json:"contextSendGroup,omitempty"`
	ContextSendModule  string      `json:"contextSendModule,omitempty"`
	RemoteQueryTimeout int32       `json:"remoteQueryTimeout,omitempty"`
	MetaServer         *MetaServer `json:"metaServer,omitempty"`
}

// MetaServer is modules.metaManager.metaServer.
type MetaServer struct {
	Enable                bool     `json:"enable"`
	Server                string   `json:"server,omitempty"`
	DummyServer           string   `json:"dummyServer,omitempty"`
	ServiceAccountIssuers []string `json:"serviceAccountIssuers,omitempty"`
}

// EventBus is modules.eventBus.
type EventBus struct {
	Enable               bool         `json:"enable"`
	MqttQOS              uint8        `json:"mqttQOS"`
	MqttRetain           bool         `json:"mqttRetain"`
	MqttSessionQueueSize int32        `json:"mqttSessionQueueSize,omitempty"`
	MqttServerInternal   string       `json:"mqttServerInternal,omitempty"`
	MqttServerExternal   string       `json:"mqttServerExternal,omitempty"`
	MqttMode             int          `json:"mqttMode"`
	EventBusTLS          *EventBusTLS `json:"eventBusTLS,omitempty"`
}

// EventBusTLS is modules.eventBus.eventBusTLS.
type EventBusTLS struct {
	Enable                bool   `json:"enable"`
	TLSMqttCAFile         string `json:"tlsMqttCAFile,omitempty"`
	TLSMqttCertFile       string `json:"tlsMqttCertFile,omitempty"`
	TLSMqttPrivateKeyFile string `json:"tlsMqttPrivateKeyFile,omitempty"`
}

// ServiceBus is modules.serviceBus.
type ServiceBus struct {
	Enable  bool   `json:"enable"`
	Server  string `json:"server,omitempty"`
	Port    int    `json:"port,omitempty"`
	Timeout int    `json:"timeout,omitempty"`
}

// DeviceTwin is modules.deviceTwin.
type DeviceTwin struct {
	Enable      bool   `json:"enable"`
	DMISockPath string `json:"dmiSockPath,omitempty"`
}
