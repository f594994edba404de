// Package model holds the message that travels on the edgecore bus and over the
// cloud link. Its JSON form is byte-compatible with KubeEdge's beehive
// model.Message, so a message can move between the bus and cloudhub unchanged.
package model

import (
	"bytes"
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
// Content is the body as JSON text: for a decoded message the bytes
// received, never turned into Go maps and slices (an 8 MiB array of empty
// objects would take some 360 MiB as []any); for a message built here, the
// encoding of the value given to FillBody. The module that consumes a body
// decodes it into its own types with DecodeContent. Empty Content is JSON
// null.
type Message struct {
	Header  Header          `json:"header"`
	Router  Route           `json:"route,omitempty"`
	Content json.RawMessage `json:"content"`

	// contentErr is why FillBody could not encode its value; ContentData,
	// DecodeContent and encoding the message return it, as they returned
	// the encoding error when content was kept as a Go value.
	contentErr error
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

// FillBody sets the content to the JSON encoding of content, as it will go
// on the wire: a json.RawMessage is taken as it is, nil means no content.
// Pass strings and JSON-encodable values, never []byte (it would travel as
// base64, which peers do not understand). A value that cannot be encoded is
// reported by ContentData, DecodeContent and Encode.
func (m *Message) FillBody(content any) *Message {
	m.Content, m.contentErr = encodeContent(content)
	return m
}

func encodeContent(content any) (json.RawMessage, error) {
	switch c := content.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return c, nil
	}
	b, err := json.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("encode content: %w", err)
	}
	return b, nil
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

// ContentData returns the content as bytes the way KubeEdge's
// GetContentData does on a decoded message: a JSON string's value, any
// other JSON value as its text, nil for no content or null.
func (m *Message) ContentData() ([]byte, error) {
	if m.contentErr != nil {
		return nil, fmt.Errorf("message %s: %w", m.Header.ID, m.contentErr)
	}
	raw := bytes.TrimSpace(m.Content)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("message %s: content: %w", m.Header.ID, err)
		}
		return []byte(s), nil
	}
	return raw, nil
}

// DecodeContent decodes the content into v. Content that is a JSON string
// is decoded from the string's value, since KubeEdge peers send an object
// either embedded or as a string holding its JSON. No content leaves v as
// it is.
func (m *Message) DecodeContent(v any) error {
	data, err := m.ContentData()
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("message %s: content: %w", m.Header.ID, err)
	}
	return nil
}

// ContentString returns the value of content that is a JSON string, and
// whether it is one.
func (m *Message) ContentString() (string, bool) {
	raw := bytes.TrimSpace(m.Content)
	if m.contentErr != nil || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// maxContentText bounds ContentText: a body quoted in a log line or an
// error stays readable however large the message.
const maxContentText = 1024

// ContentText returns the content for logs and error texts: a JSON
// string's value or other JSON as it is, cut to 1 KiB.
func (m *Message) ContentText() string {
	if s, ok := m.ContentString(); ok {
		return truncate(s)
	}
	if m.contentErr != nil {
		return "<" + m.contentErr.Error() + ">"
	}
	return truncate(string(m.Content))
}

func truncate(s string) string {
	if len(s) <= maxContentText {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:maxContentText], len(s))
}

// messageOverhead is what a message costs beside its strings and content:
// its own fields and a slot in a queue.
const messageOverhead = 256

// Size is the memory a queued message holds: its content's raw size, its
// header and route strings, and a fixed overhead. The bus bounds its
// queues with it. (A decoded message may pin the whole frame it came in,
// at most twice its Size: see Decode.)
func (m *Message) Size() int {
	h, r := &m.Header, &m.Router
	return messageOverhead + len(m.Content) +
		len(h.ID) + len(h.ParentID) + len(h.ResourceVersion) + len(h.MessageType) +
		len(r.Source) + len(r.Destination) + len(r.Group) + len(r.Operation) + len(r.Resource)
}

// NewRespByMessage builds the reply to req the way KubeEdge does: parent is
// req's ID, source and group copied, same resource, operation "response".
func NewRespByMessage(req *Message, content any) *Message {
	resp := NewMessage(req.Header.ID)
	resp.Header.MessageType = req.Header.MessageType
	resp.BuildRouter(req.Router.Source, req.Router.Group, req.Router.Resource, ResponseOperation)
	return resp.FillBody(content)
}

// NewErrorMessage builds an error reply to req: parent is req's ID, operation
// "error", resource copied, no source or group (as KubeEdge).
func NewErrorMessage(req *Message, text string) *Message {
	resp := NewMessage(req.Header.ID)
	resp.Header.MessageType = req.Header.MessageType
	resp.Router.Resource = req.Router.Resource
	resp.Router.Operation = ResponseErrorOperation
	return resp.FillBody(text)
}

// Decode parses one JSON message. It rejects input that is not a JSON object
// with a header; it never panics on arbitrary bytes.
//
// The content is kept as the JSON text received. When it is most of data
// (a large body), the message shares data instead of copying it, so the
// caller must not change data afterwards; a small body is copied, so a
// small message never pins a large frame.
func Decode(data []byte) (*Message, error) {
	var w struct {
		Header  Header       `json:"header"`
		Router  Route        `json:"route,omitempty"`
		Content borrowedJSON `json:"content"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	m := &Message{Header: w.Header, Router: w.Router, Content: json.RawMessage(w.Content)}
	if 2*len(w.Content) < len(data) {
		m.Content = bytes.Clone(m.Content)
	}
	return m, nil
}

// borrowedJSON is a JSON value that keeps the decoder's input instead of
// copying it (json.RawMessage copies): one frame of the frame limit is then
// held once, not twice.
type borrowedJSON []byte

func (b *borrowedJSON) UnmarshalJSON(data []byte) error {
	*b = data
	return nil
}

// Encode returns the JSON form of m.
func Encode(m *Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.Header.ID, err)
	}
	return b, nil
}

// wireMessage is Message without its methods, for MarshalJSON.
type wireMessage struct {
	Header  Header          `json:"header"`
	Router  Route           `json:"route,omitempty"`
	Content json.RawMessage `json:"content"`
}

// MarshalJSON writes KubeEdge's form of m, whatever encodes it (Encode, a
// json.Encoder, a websocket's WriteJSON), and fails if FillBody could not
// encode the content.
func (m Message) MarshalJSON() ([]byte, error) {
	if m.contentErr != nil {
		return nil, m.contentErr
	}
	w := wireMessage{Header: m.Header, Router: m.Router, Content: m.Content}
	if len(bytes.TrimSpace(w.Content)) == 0 {
		w.Content = nil // no content is null, as an empty interface was
	}
	return json.Marshal(w)
}
