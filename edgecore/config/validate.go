package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
)

// FieldError is one invalid field: its path in the file, the bad value and
// why it is bad.
type FieldError struct {
	Field  string
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: invalid value %q: %s", e.Field, fmt.Sprint(e.Value), e.Reason)
}

var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate checks every field edgegate uses and returns all problems at
// once, each a *FieldError (use errors.As to get at them).
func (c *EdgeCoreConfig) Validate() error {
	var v validator
	v.check(c.Kind == Kind, "kind", c.Kind, "must be "+Kind)
	v.check(c.APIVersion == APIVersion, "apiVersion", c.APIVersion, "must be "+APIVersion)
	if c.Database == nil || c.Modules == nil {
		v.add("database/modules", nil, "sections must not be null")
		return v.err()
	}
	db := c.Database
	v.check(db.DriverName == "bbolt" || db.DriverName == "sqlite3", "database.driverName", db.DriverName, "must be bbolt (sqlite3 is accepted as an alias)")
	v.check(filepath.IsAbs(db.DataSource), "database.dataSource", db.DataSource, "must be an absolute file path")

	m := c.Modules
	if e := m.Edged; e != nil {
		name := c.NodeName()
		v.check(len(name) <= 253 && dns1123Subdomain.MatchString(name), "modules.edged.hostnameOverride", name,
			"must be a lower-case DNS-1123 subdomain (node name)")
		v.check(e.RegisterNodeNamespace != "", "modules.edged.registerNodeNamespace", e.RegisterNodeNamespace, "must not be empty")
		if ip := e.NodeIP; ip != "" {
			v.check(net.ParseIP(ip) != nil, "modules.edged.nodeIP", ip, "must be an IP address")
		}
		if d := e.RootDirectory; d != "" {
			v.check(filepath.IsAbs(d), "modules.edged.rootDirectory", d, "must be an absolute path")
		}
		if f := e.UpdateStatusFile; f != "" {
			v.check(filepath.IsAbs(f), "modules.edged.updateStatusFile", f, "must be an absolute file path (or empty: no EdgegateUpdate condition)")
		}
		_, kerrs := e.kubelet()
		v.errs = append(v.errs, kerrs...)
	}
	if h := m.EdgeHub; h != nil && h.Enable {
		v.check(h.Heartbeat > 0, "modules.edgeHub.heartbeat", h.Heartbeat, "must be > 0 seconds")
		v.check(h.MessageQPS > 0, "modules.edgeHub.messageQPS", h.MessageQPS, "must be > 0")
		v.check(h.MessageBurst > 0, "modules.edgeHub.messageBurst", h.MessageBurst, "must be > 0")
		v.check(h.ProjectID != "", "modules.edgeHub.projectID", h.ProjectID, "must not be empty")
		u, err := url.Parse(h.HTTPServer)
		v.check(err == nil && u.Scheme == "https" && u.Host != "", "modules.edgeHub.httpServer", h.HTTPServer, "must be an https:// URL")
		ws, quic := h.WebSocket != nil && h.WebSocket.Enable, h.Quic != nil && h.Quic.Enable
		v.check(!quic, "modules.edgeHub.quic.enable", quic, "QUIC is not supported; use websocket")
		v.check(ws, "modules.edgeHub.websocket.enable", ws, "websocket must be enabled when edgeHub is")
		if ws {
			v.hostPort("modules.edgeHub.websocket.server", h.WebSocket.Server)
			v.check(h.WebSocket.HandshakeTimeout > 0, "modules.edgeHub.websocket.handshakeTimeout", h.WebSocket.HandshakeTimeout, "must be > 0 seconds")
			v.check(h.WebSocket.ReadDeadline > 0, "modules.edgeHub.websocket.readDeadline", h.WebSocket.ReadDeadline, "must be > 0 seconds")
			v.check(h.WebSocket.WriteDeadline > 0, "modules.edgeHub.websocket.writeDeadline", h.WebSocket.WriteDeadline, "must be > 0 seconds")
			v.check(h.WebSocket.MaxMessageSize >= MinMaxMessageSize && h.WebSocket.MaxMessageSize <= MaxMaxMessageSize,
				"modules.edgeHub.websocket.maxMessageSize", h.WebSocket.MaxMessageSize,
				fmt.Sprintf("must be %d (64 KiB) to %d (64 MiB) bytes", MinMaxMessageSize, MaxMaxMessageSize))
		}
	}
	if mm := m.MetaManager; mm != nil && mm.Enable {
		v.check(mm.ContextSendGroup != "", "modules.metaManager.contextSendGroup", mm.ContextSendGroup, "must not be empty")
		v.check(mm.ContextSendModule != "", "modules.metaManager.contextSendModule", mm.ContextSendModule, "must not be empty")
		v.check(mm.RemoteQueryTimeout > 0, "modules.metaManager.remoteQueryTimeout", mm.RemoteQueryTimeout, "must be > 0 seconds")
	}
	if eb := m.EventBus; eb != nil {
		v.check(eb.MqttMode >= 0 && eb.MqttMode <= 2, "modules.eventBus.mqttMode", eb.MqttMode, "must be 0 (internal), 1 (both) or 2 (external)")
		v.check(eb.MqttQOS <= 2, "modules.eventBus.mqttQOS", eb.MqttQOS, "must be 0, 1 or 2")
	}
	if sb := m.ServiceBus; sb != nil {
		v.check(sb.Port > 0 && sb.Port < 65536, "modules.serviceBus.port", sb.Port, "must be 1-65535")
	}
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) add(field string, value any, reason string) {
	v.errs = append(v.errs, &FieldError{Field: field, Value: value, Reason: reason})
}

func (v *validator) check(ok bool, field string, value any, reason string) {
	if !ok {
		v.add(field, value, reason)
	}
}

func (v *validator) hostPort(field, value string) {
	host, port, err := net.SplitHostPort(value)
	if err != nil || host == "" {
		v.add(field, value, "must be host:port")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(field, value, "port must be 1-65535")
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(v.errs...))
}
