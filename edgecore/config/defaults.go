package config

import (
	"os"
	"strings"
)

// KubeEdge's v1alpha2 defaults.
const (
	DefaultDataSource        = "/var/lib/kubeedge/edgecore.db"
	DefaultDriverName        = "bbolt"
	DefaultAliasName         = "default"
	DefaultProjectID         = "e632aba927ea4ac2b575ec1603d56f10"
	DefaultCAFile            = "/etc/kubeedge/ca/rootCA.crt"
	DefaultCertFile          = "/etc/kubeedge/certs/server.crt"
	DefaultKeyFile           = "/etc/kubeedge/certs/server.key"
	DefaultRegisterNamespace = "default"
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
				Enable:                false,
				RegisterNodeNamespace: DefaultRegisterNamespace,
				TailoredKubeletFlag: TailoredKubeletFlag{
					HostnameOverride: Hostname(),
					RootDirectory:    "/var/lib/kubelet",
					PodSandboxImage:  "kubeedge/pause:3.6",
				},
				TailoredKubeletConfig: map[string]any{
					"readOnlyPort":              10350,
					"nodeStatusUpdateFrequency": "10s",
					"containerRuntimeEndpoint":  "unix:///run/containerd/containerd.sock",
				},
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
				WebSocket:          &Transport{Enable: true, HandshakeTimeout: 30, ReadDeadline: 15, Server: "127.0.0.1:10000", WriteDeadline: 15},
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
				TailoredKubeletFlag: TailoredKubeletFlag{HostnameOverride: Hostname()},
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
