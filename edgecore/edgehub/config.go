// Package edgehub is edgecore's link to KubeEdge's cloudcore (bus name
// "websocket", group "hub"): it obtains the node certificate, keeps a TLS
// websocket to cloudhub alive, dispatches cloud messages to the module
// groups, and sends module messages up, queueing what must survive an outage.
package edgehub

import (
	"errors"
	"fmt"
	"time"
)

// Config mirrors EdgeCore v1alpha2 modules.edgeHub, plus the node name from
// modules.edged.
type Config struct {
	Enable             bool
	NodeName           string
	ProjectID          string        // projectID
	Heartbeat          time.Duration // heartbeat (15 s)
	Server             string        // websocket.server, host:port
	HandshakeTimeout   time.Duration // websocket.handshakeTimeout (30 s)
	WriteDeadline      time.Duration // websocket.writeDeadline (15 s)
	HTTPServer         string        // httpServer, https://<cloud>:10002
	Token              string        // token; cleared once used
	TLSCAFile          string        // tlsCaFile
	TLSCertFile        string        // tlsCertFile
	TLSPrivateKeyFile  string        // tlsPrivateKeyFile
	RotateCertificates bool          // rotateCertificates
	MessageQPS         float64       // messageQPS (30)
	MessageBurst       int           // messageBurst (60)
	// OutboxSize bounds the persisted queue of messages for the cloud.
	OutboxSize int
}

// Defaults as in KubeEdge's v1alpha2 default.go.
const (
	DefaultProjectID  = "e632aba927ea4ac2b575ec1603d56f10"
	DefaultHeartbeat  = 15 * time.Second
	DefaultOutboxSize = 1024
)

func (c *Config) defaults() {
	if c.ProjectID == "" {
		c.ProjectID = DefaultProjectID
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.OutboxSize <= 0 {
		c.OutboxSize = DefaultOutboxSize
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name is empty (modules.edged.tailoredKubeletFlag.hostnameOverride)"))
	}
	if c.Server == "" {
		errs = append(errs, errors.New("modules.edgeHub.websocket.server is empty"))
	}
	for name, v := range map[string]string{"tlsCaFile": c.TLSCAFile, "tlsCertFile": c.TLSCertFile, "tlsPrivateKeyFile": c.TLSPrivateKeyFile} {
		if v == "" {
			errs = append(errs, fmt.Errorf("modules.edgeHub.%s is empty", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("edgehub config: %w", err)
	}
	return nil
}
