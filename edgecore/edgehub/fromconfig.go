package edgehub

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edgehub/internal/atomicfile"
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
		WriteDeadline:      seconds(ws.WriteDeadline),
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

// tokenLine matches the value of modules.edgeHub.token in a YAML file.
var tokenLine = regexp.MustCompile(`(?m)^(\s*token:\s*)("[^"\n]*"|'[^'\n]*'|[^\s#\n]+)(.*)$`)

// ClearToken removes the join token from the config file at path, as
// KubeEdge's edgecore does after a successful bootstrap. It edits only the
// token line, so comments and layout stay, checks the result still parses
// with an empty token, and replaces the file atomically.
func ClearToken(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("clear token: %w", err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return fmt.Errorf("clear token: %s: %w", path, err)
	}
	if cfg.Modules == nil || cfg.Modules.EdgeHub == nil || cfg.Modules.EdgeHub.Token == "" {
		return nil
	}
	out := tokenLine.ReplaceAll(data, []byte(`${1}""${3}`))
	if again, err := config.Parse(out); err != nil || again.Modules.EdgeHub.Token != "" || bytes.Equal(out, data) {
		// Unusual layout (flow style, several token keys): rewrite whole.
		cfg.Modules.EdgeHub.Token = ""
		if out, err = config.Marshal(cfg); err != nil {
			return fmt.Errorf("clear token: %w", err)
		}
	}
	return writeAtomic(path, out)
}

func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := atomicfile.Write(path, data, mode); err != nil {
		return fmt.Errorf("clear token: %w", err)
	}
	return nil
}
