package testcloud

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// maxFrame bounds one upstream frame.
const maxFrame = 16 << 20

// session is one edge connection (cloudhub's node session).
type session struct {
	node      string
	conn      *websocket.Conn
	writeMu   sync.Mutex
	keepalive *time.Timer
	done      chan struct{}
	closeOnce sync.Once
}

// nodeQueue holds downstream messages awaiting an ack, in send order.
type nodeQueue struct {
	order   []string
	pending map[string]*pendingMsg
}

type pendingMsg struct {
	msg      *model.Message
	lastSent time.Time
	// sentOn is the session the message last went out on; the flush on
	// connect skips messages Send already wrote on the new session, which
	// would otherwise reach the edge twice.
	sentOn *session
}

var upgrader = websocket.Upgrader{HandshakeTimeout: 30 * time.Second}

func (c *Cloud) wsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node := r.Header.Get("node_id")
		if node == "" || r.Header.Get("project_id") == "" {
			http.Error(w, "missing node_id/project_id header", http.StatusBadRequest)
			return
		}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn.SetReadLimit(maxFrame)
		s := &session{node: node, conn: conn, done: make(chan struct{})}
		// cloudhub only reads frames from connections used for messages.
		if r.Header.Get("ConnectionUse") != "msg" {
			klog.Warningf("testcloud: %s connected without ConnectionUse: msg; not serving", node)
			<-s.done
			return
		}
		c.addSession(s)
		go c.resendLoop(s)
		c.readLoop(s)
	})
}

func (c *Cloud) addSession(s *session) {
	s.keepalive = time.AfterFunc(c.opts.KeepaliveTimeout, func() {
		s.close(errors.New("keepalive timeout"))
	})
	c.mu.Lock()
	old := c.sessions[s.node]
	c.sessions[s.node] = s
	c.connects[s.node]++
	c.notifyLocked()
	c.mu.Unlock()
	if old != nil {
		old.close(errors.New("replaced by a new connection"))
	}
	go func() {
		<-s.done
		c.mu.Lock()
		if c.sessions[s.node] == s {
			delete(c.sessions, s.node)
		}
		c.notifyLocked()
		c.mu.Unlock()
	}()
}

func (s *session) close(reason error) {
	s.closeOnce.Do(func() {
		klog.V(2).Infof("testcloud: session %s closed: %v", s.node, reason)
		close(s.done)
		if s.keepalive != nil {
			s.keepalive.Stop()
		}
		s.conn.Close()
	})
}

func (s *session) write(msg *model.Message) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(15 * time.Second))
	return s.conn.WriteJSON(msg) // one text frame, JSON plus newline, as viaduct
}

func (s *session) writeRaw(frame []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(15 * time.Second))
	return s.conn.WriteMessage(websocket.TextMessage, frame)
}

func (c *Cloud) readLoop(s *session) {
	defer s.close(errors.New("read loop ended"))
	for {
		_, raw, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		msg, err := model.Decode(raw)
		if err != nil {
			klog.Warningf("testcloud: %s sent a bad frame: %v", s.node, err)
			continue
		}
		c.mu.Lock()
		c.upstream = append(c.upstream, Upstream{Node: s.node, Msg: msg, Raw: raw, At: time.Now()})
		c.notifyLocked()
		c.mu.Unlock()
		c.handleUpstream(s, msg)
	}
}

// handleUpstream follows cloudhub's upstream dispatch order (§3.5) and
// answers the edgecontroller requests the edge makes (§3.9).
func (c *Cloud) handleUpstream(s *session, msg *model.Message) {
	switch msg.Operation() {
	case model.KeepaliveOperation:
		s.keepalive.Reset(c.opts.KeepaliveTimeout)
		return
	case model.ResponseOperation:
		c.ack(s.node, msg)
		return
	case model.ResponseErrorOperation:
		klog.Warningf("testcloud: %s reported error for %s: %v", s.node, msg.ParentID(), msg.Content)
		return
	}
	if model.IsCloudSource(msg.Source()) {
		return // IsFromEdge drops frames that claim a cloud source
	}
	if reply := c.answer(s.node, msg); reply != nil {
		if err := s.write(reply); err != nil {
			s.close(err)
		}
	}
}

// ack records the edge's response to a downstream message.
func (c *Cloud) ack(node string, msg *model.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	parent := msg.ParentID()
	q := c.queues[node]
	if q != nil {
		if p, ok := q.pending[parent]; ok {
			delete(q.pending, parent)
			if p.msg.Header.ResourceVersion != "" {
				c.synced[p.msg.Resource()] = p.msg.Header.ResourceVersion
			}
		}
	}
	c.acks[parent]++
	c.notifyLocked()
}

// answer builds edgecontroller's reply to an edge request, or nil.
func (c *Cloud) answer(node string, msg *model.Message) *model.Message {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case res.Type == model.ResourceTypeNode && msg.Operation() == model.InsertOperation:
		c.nodes[res.Name] = msg.Content
		return response(msg, objectResp(msg.Content, nil))
	case res.Type == model.ResourceTypeNode && msg.Operation() == model.QueryOperation:
		if n, ok := c.nodes[res.Name]; ok {
			return response(msg, n)
		}
		return response(msg, objectResp(nil, notFound("nodes", res.Name)))
	case res.Type == model.ResourceTypeNodePatch, res.Type == model.ResourceTypePodPatch:
		return response(msg, objectResp(c.objects[msg.Resource()], nil))
	case res.Type == model.ResourceTypeLease && msg.Operation() != model.QueryOperation:
		c.objects[msg.Resource()] = msg.Content
		return response(msg, objectResp(msg.Content, nil))
	case res.Type == model.ResourceTypeNodeStatus, res.Type == model.ResourceTypePodStatus:
		return response(msg, model.AckContent)
	case res.Type == model.ResourceTypePod && msg.Operation() == model.DeleteOperation:
		return response(msg, model.AckContent)
	case msg.Operation() == model.QueryOperation:
		if obj, ok := c.objects[msg.Resource()]; ok {
			return response(msg, obj)
		}
		return response(msg, objectResp(nil, notFound(res.Type+"s", res.Name)))
	}
	return nil
}

func response(req *model.Message, content any) *model.Message {
	resp := model.NewMessage(req.ID())
	resp.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, req.Resource(), model.ResponseOperation)
	resp.Content = content
	return resp
}

// objectResp is edgecontroller's ObjectResp: Go field names, no JSON tags.
func objectResp(obj, err any) map[string]any { return map[string]any{"Object": obj, "Err": err} }

func notFound(kind, name string) map[string]any {
	return map[string]any{"ErrStatus": map[string]any{
		"metadata": map[string]any{}, "status": "Failure", "reason": "NotFound", "code": 404,
		"message": fmt.Sprintf("%s %q not found", kind, name),
	}}
}

// needsAck follows cloudhub's queue choice (§3.5): resource-group messages
// outside the no-ack list wait for the edge's response.
func needsAck(msg *model.Message) bool {
	if msg.Group() != model.ResourceGroup || msg.Operation() == model.ResponseOperation {
		return false
	}
	for _, s := range []string{"podlist", "membership", "twin/cloud_updated", "serviceaccounttoken", "k8s/ca.crt"} {
		if strings.Contains(msg.Resource(), s) {
			return false
		}
	}
	return msg.Header.ResourceVersion != "" || msg.Operation() == model.DeleteOperation
}
