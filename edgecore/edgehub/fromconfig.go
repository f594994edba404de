package edgehub

import (
	"errors"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
)

// FromConfig maps an EdgeCore config onto edgehub's, with KubeEdge's field
// meanings: the parameters `keadm join` takes land in
// modules.edgeHub.websocket.server, modules.edgeHub.httpServer,
// modules.edgeHub.token and modules.edged.tailoredKubeletFlag.hostnameOverride.
func FromConfig(c *config.EdgeCoreConfig) (Config, error) {
	if c.Modules == nil || c.Modules.EdgeHub == nil || !c.Modules.EdgeHub.Enable {
		return Config{}, nil
	}
	h := c.Modules.EdgeHub
	ws := h.WebSocket
	if ws == nil || !ws.Enable {
		if h.Quic != nil && h.Quic.Enable {
			return Config{}, errors.New("modules.edgeHub.quic: QUIC is not supported (cloudcore's 2019 gQUIC does not interoperate); enable modules.edgeHub.websocket instead")
		}
		return Config{}, errors.New("modules.edgeHub is enabled but modules.edgeHub.websocket is not")
	}
	return Config{
		Enable:             true,
		NodeName:           c.NodeName(),
		ProjectID:          h.ProjectID,
		Heartbeat:          seconds(h.Heartbeat),
		Server:             ws.Server,
		HandshakeTimeout:   seconds(ws.HandshakeTimeout),
		ReadDeadline:       seconds(ws.ReadDeadline),
		WriteDeadline:      seconds(ws.WriteDeadline),
		MaxMessage:         int(ws.MaxMessageSize),
		HTTPServer:         h.HTTPServer,
		Token:              h.Token,
		TLSCAFile:          h.TLSCAFile,
		TLSCertFile:        h.TLSCertFile,
		TLSPrivateKeyFile:  h.TLSPrivateKeyFile,
		RotateCertificates: h.RotateCertificates,
		MessageQPS:         float64(h.MessageQPS),
		MessageBurst:       int(h.MessageBurst),
	}, nil
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

// ClearToken removes the join token from the config file at path, as
// KubeEdge's edgecore does after a successful bootstrap. The file is edited
// in place (comments and KubeEdge fields edgegate does not use are kept)
// and replaced atomically.
func ClearToken(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("clear token: %w", err)
	}
	if cfg.Modules == nil || cfg.Modules.EdgeHub == nil || cfg.Modules.EdgeHub.Token == "" {
		return nil
	}
	if err := config.SetFields(path, map[string]string{"modules.edgeHub.token": ""}); err != nil {
		return fmt.Errorf("clear token: %w", err)
	}
	return nil
}
