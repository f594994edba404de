// Package model holds the message that travels on the edgecore bus and over the
// cloud link. Its JSON form is byte-compatible with KubeEdge's beehive
// model.Message, so a message can move between the bus and cloudhub unchanged.
package model

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Header carries identity and bookkeeping. Field tags match KubeEdge exactly.
type Header struct {
	// ID is a uuid string; replies name it in ParentID.
	ID string `json:"msg_id"`
	// ParentID is the ID of the message this one answers.
	ParentID string `json:"parent_msg_id,omitempty"`
	// Timestamp is milliseconds since the Unix epoch.
	Timestamp int64 `json:"timestamp"`
	// ResourceVersion is the Kubernetes resourceVersion of the object carried.
	ResourceVersion string `json:"resourceversion,omitempty"`
	// Sync marks a request whose sender waits for a reply.
	Sync bool `json:"sync,omitempty"`
	// MessageType is the beehive context type; edgecore leaves it empty.
	MessageType string `json:"type,omitempty"`
}

// Route says where a message comes from and what it does.
type Route struct {
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	Group       string `json:"group,omitempty"`
	Operation   string `json:"operation,omitempty"`
	Resource    string `json:"resource,omitempty"`
}

// Message is one unit on the bus and on the wire.
//
// Content is any JSON value. After decoding it is a map[string]any, []any,
// string, float64, bool or nil. Never put []byte in it: encoding/json turns it
// into base64 and peers would not understand it; use json.RawMessage or a
// string holding JSON instead.
type Message struct {
	Header  Header `json:"header"`
	Router  Route  `json:"route,omitempty"`
	Content any    `json:"content"`
}

// NewMessage returns a message with a fresh uuid, the current time and the
// given parent ID (empty for a request).
func NewMessage(parentID string) *Message {
	return &Message{Header: Header{
		ID:        uuid.NewString(),
		ParentID:  parentID,
		Timestamp: time.Now().UnixMilli(),
	}}
}

// BuildRouter sets source, group, resource and operation, as KubeEdge's
// BuildRouter does (same argument order).
func (m *Message) BuildRouter(source, group, resource, operation string) *Message {
	m.Router.Source = source
	m.Router.Group = group
	m.Router.Resource = resource
	m.Router.Operation = operation
	return m
}

// FillBody sets the content.
func (m *Message) FillBody(content any) *Message {
	m.Content = content
	return m
}

// SetResourceVersion sets header.resourceversion.
func (m *Message) SetResourceVersion(rv string) *Message {
	m.Header.ResourceVersion = rv
	return m
}

// Source, Group, Operation, Resource and ID read the route and header.
func (m *Message) Source() string    { return m.Router.Source }
func (m *Message) Group() string     { return m.Router.Group }
func (m *Message) Operation() string { return m.Router.Operation }
func (m *Message) Resource() string  { return m.Router.Resource }
func (m *Message) ID() string        { return m.Header.ID }
func (m *Message) ParentID() string  { return m.Header.ParentID }
func (m *Message) IsSync() bool      { return m.Header.Sync }

// ContentData returns the content as bytes the way KubeEdge's GetContentData
// does: strings, []byte and json.RawMessage as they are, anything else
// marshalled to JSON.
func (m *Message) ContentData() ([]byte, error) {
	switch c := m.Content.(type) {
	case nil:
		return nil, nil
	case []byte:
		return c, nil
	case json.RawMessage:
		return c, nil
	case string:
		return []byte(c), nil
	default:
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("message %s: encode content: %w", m.Header.ID, err)
		}
		return b, nil
	}
}

// NewRespByMessage builds the reply to req the way KubeEdge does: parent is
// req's ID, source and group copied, same resource, operation "response".
func NewRespByMessage(req *Message, content any) *Message {
	resp := NewMessage(req.Header.ID)
	resp.Header.MessageType = req.Header.MessageType
	resp.BuildRouter(req.Router.Source, req.Router.Group, req.Router.Resource, ResponseOperation)
	resp.Content = content
	return resp
}

// NewErrorMessage builds an error reply to req: parent is req's ID, operation
// "error", resource copied, no source or group (as KubeEdge).
func NewErrorMessage(req *Message, text string) *Message {
	resp := NewMessage(req.Header.ID)
	resp.Header.MessageType = req.Header.MessageType
	resp.Router.Resource = req.Router.Resource
	resp.Router.Operation = ResponseErrorOperation
	resp.Content = text
	return resp
}

// Decode parses one JSON message. It rejects input that is not a JSON object
// with a header; it never panics on arbitrary bytes.
func Decode(data []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return &m, nil
}

// Encode returns the JSON form of m.
func Encode(m *Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.Header.ID, err)
	}
	return b, nil
}
