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
	ReadDeadline       time.Duration // websocket.readDeadline (15 s): silence that ends the link
	WriteDeadline      time.Duration // websocket.writeDeadline (15 s)
	MaxMessage         int           // websocket.maxMessageSize (8 MiB): largest cloud frame taken
	HTTPServer         string        // httpServer, https://<cloud>:10002
	Token              string        // token; cleared once used
	TLSCAFile          string        // tlsCaFile
	TLSCertFile        string        // tlsCertFile
	TLSPrivateKeyFile  string        // tlsPrivateKeyFile
	RotateCertificates bool          // rotateCertificates
	MessageQPS         float64       // messageQPS (30)
	MessageBurst       int           // messageBurst (60)
	// OutboxSize and OutboxBytes bound the persisted queue of messages
	// for the cloud.
	OutboxSize  int
	OutboxBytes int
	// WindowSize and WindowBytes bound the messages written to the link
	// and not yet confirmed by the cloud; writing pauses while it is full.
	WindowSize  int
	WindowBytes int
}

// Defaults as in KubeEdge's v1alpha2 default.go, and edgegate's bounds.
const (
	DefaultProjectID    = "e632aba927ea4ac2b575ec1603d56f10"
	DefaultHeartbeat    = 15 * time.Second
	DefaultReadDeadline = 15 * time.Second
	DefaultOutboxSize   = 1024
	DefaultOutboxBytes  = 8 << 20
	// A window of 256 messages or 1 MiB is over eight seconds of writing
	// at messageQPS 30, far more than a round trip's worth.
	DefaultWindowSize  = 256
	DefaultWindowBytes = 1 << 20
)

func (c *Config) defaults() {
	if c.ProjectID == "" {
		c.ProjectID = DefaultProjectID
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.ReadDeadline <= 0 {
		c.ReadDeadline = DefaultReadDeadline
	}
	if c.OutboxSize <= 0 {
		c.OutboxSize = DefaultOutboxSize
	}
	if c.OutboxBytes <= 0 {
		c.OutboxBytes = DefaultOutboxBytes
	}
	if c.WindowSize <= 0 {
		c.WindowSize = DefaultWindowSize
	}
	if c.WindowBytes <= 0 {
		c.WindowBytes = DefaultWindowBytes
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
