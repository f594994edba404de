package config

import (
	"os"
	"strings"
	"time"
)

// Defaults. They are KubeEdge's v1alpha2 defaults except for where the
// certificates are kept: under /var/lib/kubeedge next to the store, where a
// gateway keeps everything that must survive a reboot (its /etc is part of
// the image), rather than KubeEdge's /etc/kubeedge.
const (
	DefaultStateDir          = "/var/lib/kubeedge"
	DefaultDataSource        = DefaultStateDir + "/edgecore.db"
	DefaultDriverName        = "bbolt"
	DefaultAliasName         = "default"
	DefaultProjectID         = "e632aba927ea4ac2b575ec1603d56f10"
	DefaultCAFile            = DefaultStateDir + "/ca/rootCA.crt"
	DefaultCertFile          = DefaultStateDir + "/certs/server.crt"
	DefaultKeyFile           = DefaultStateDir + "/certs/server.key"
	DefaultRegisterNamespace = "default"
	DefaultRootDirectory     = "/var/lib/kubelet"
	// DefaultUpdateStatusFile is where edgegate's update service keeps
	// the slot state and the outcome of the last update.
	DefaultUpdateStatusFile = "/var/lib/edgegate/update/status.json"
	// DefaultMaxMessageSize (modules.edgeHub.websocket.maxMessageSize) fits
	// the largest Kubernetes object (etcd's 1.5 MiB) with room.
	DefaultMaxMessageSize = 8 << 20
	MinMaxMessageSize     = 64 << 10
	MaxMaxMessageSize     = 64 << 20
)

// NewDefault returns the full default configuration, as printed by
// --defaultconfig. Modules this release does not implement are disabled.
func NewDefault() *EdgeCoreConfig {
	return &EdgeCoreConfig{
		Kind:       Kind,
		APIVersion: APIVersion,
		Database:   &DataBase{DriverName: DefaultDriverName, AliasName: DefaultAliasName, DataSource: DefaultDataSource},
		Modules: &Modules{
			Edged: &Edged{
				Enable:                true,
				RegisterNodeNamespace: DefaultRegisterNamespace,
				TailoredKubeletFlag: TailoredKubeletFlag{
					HostnameOverride: Hostname(),
					RootDirectory:    DefaultRootDirectory,
					PodSandboxImage:  "kubeedge/pause:3.6",
				},
				TailoredKubeletConfig: defaultKubeletConfig(),
				UpdateStatusFile:      DefaultUpdateStatusFile,
			},
			EdgeHub: &EdgeHub{
				Enable:             true,
				Heartbeat:          15,
				MessageQPS:         30,
				MessageBurst:       60,
				ProjectID:          DefaultProjectID,
				TLSCAFile:          DefaultCAFile,
				TLSCertFile:        DefaultCertFile,
				TLSPrivateKeyFile:  DefaultKeyFile,
				Quic:               &Transport{Enable: false, HandshakeTimeout: 30, ReadDeadline: 15, Server: "127.0.0.1:10001", WriteDeadline: 15},
				WebSocket:          &WebSocket{Transport: Transport{Enable: true, HandshakeTimeout: 30, ReadDeadline: 15, Server: "127.0.0.1:10000", WriteDeadline: 15}, MaxMessageSize: DefaultMaxMessageSize},
				HTTPServer:         "https://127.0.0.1:10002",
				RotateCertificates: true,
			},
			EventBus: &EventBus{
				Enable:               false,
				MqttSessionQueueSize: 100,
				MqttServerInternal:   "tcp://127.0.0.1:1884",
				MqttServerExternal:   "tcp://127.0.0.1:1883",
				MqttMode:             2,
				EventBusTLS:          &EventBusTLS{Enable: false},
			},
			MetaManager: &MetaManager{
				Enable:             true,
				ContextSendGroup:   "hub",
				ContextSendModule:  "websocket",
				RemoteQueryTimeout: 60,
				MetaServer: &MetaServer{
					Enable:                false,
					Server:                "127.0.0.1:10550",
					DummyServer:           "169.254.30.10:10550",
					ServiceAccountIssuers: []string{"https://kubernetes.default.svc.cluster.local"},
				},
			},
			ServiceBus:  &ServiceBus{Enable: false, Server: "127.0.0.1", Port: 9060, Timeout: 60},
			DeviceTwin:  &DeviceTwin{Enable: false, DMISockPath: "/etc/kubeedge/dmi.sock"},
			DBTest:      &Toggle{},
			EdgeStream:  &Transport{Enable: false, HandshakeTimeout: 30, ReadDeadline: 15, Server: "127.0.0.1:10004", WriteDeadline: 15},
			TaskManager: &Toggle{},
			EdgeMesh:    &Toggle{},
		},
	}
}

// NewMin returns the smallest useful configuration, as printed by
// --minconfig: where the store is, who the node is, and how to reach the
// cloud. Everything else takes its default when the file is loaded.
func NewMin() *EdgeCoreConfig {
	d := NewDefault()
	return &EdgeCoreConfig{
		Kind:       Kind,
		APIVersion: APIVersion,
		Database:   &DataBase{DataSource: DefaultDataSource},
		Modules: &Modules{
			Edged: &Edged{
				Enable:                true,
				RegisterNodeNamespace: DefaultRegisterNamespace,
				TailoredKubeletFlag:   TailoredKubeletFlag{HostnameOverride: Hostname()},
			},
			EdgeHub: &EdgeHub{
				Enable:             true,
				Heartbeat:          d.Modules.EdgeHub.Heartbeat,
				TLSCAFile:          DefaultCAFile,
				TLSCertFile:        DefaultCertFile,
				TLSPrivateKeyFile:  DefaultKeyFile,
				WebSocket:          d.Modules.EdgeHub.WebSocket,
				HTTPServer:         d.Modules.EdgeHub.HTTPServer,
				RotateCertificates: true,
			},
			MetaManager: &MetaManager{Enable: true},
		},
	}
}

// Hostname returns the node name KubeEdge would pick: the lower-cased host
// name, or "edgegate" when the host name cannot be read.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "edgegate"
	}
	return strings.ToLower(h)
}

// defaultKubeletConfig is the part of KubeEdge's tailored kubelet
// configuration edgegate reads, with KubeEdge's values.
func defaultKubeletConfig() map[string]any {
	k := defaultKubelet()
	hard := map[string]any{}
	for s, t := range k.EvictionHard {
		hard[s] = t.String()
	}
	return map[string]any{
		"readOnlyPort":                     10350,
		"maxPods":                          k.MaxPods,
		"nodeStatusUpdateFrequency":        k.NodeStatusUpdateFrequency.String(),
		"nodeStatusReportFrequency":        k.NodeStatusReportFrequency.String(),
		"nodeLeaseDurationSeconds":         int64(k.NodeLeaseDuration / time.Second),
		"evictionHard":                     hard,
		"evictionPressureTransitionPeriod": k.EvictionPressureTransitionPeriod.String(),
		"containerRuntimeEndpoint":         k.ContainerRuntimeEndpoint,
		"eventRecordQPS":                   int64(k.EventRecordQPS),
		"eventBurst":                       int64(k.EventBurst),
	}
}
