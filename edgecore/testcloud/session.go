package testcloud

import (
	"errors"
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
	cloud     *Cloud
	node      string
	conn      *websocket.Conn
	writeMu   sync.Mutex
	keepalive *time.Timer
	done      chan struct{}
	closeOnce sync.Once
	// requests are edge requests for the API server, handled in order
	// beside the read loop, as cloudcore's edgecontroller workers do.
	requests chan *model.Message
}

// requestQueue bounds the edge requests waiting for the API server.
const requestQueue = 1024

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
		s := &session{cloud: c, node: node, conn: conn, done: make(chan struct{}), requests: make(chan *model.Message, requestQueue)}
		conn.SetPingHandler(s.answerPing)
		// cloudhub only reads frames from connections used for messages.
		if r.Header.Get("ConnectionUse") != "msg" {
			klog.Warningf("testcloud: %s connected without ConnectionUse: msg; not serving", node)
			<-s.done
			return
		}
		c.addSession(s)
		c.trackNode(node)
		go c.resendLoop(s)
		go c.serveRequests(s)
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

// answerPing does with a websocket ping what cloudhub's websocket library
// (gorilla's default handler) does: a pong with the same bytes, written
// from the read loop, so it follows every frame read before the ping.
// cloudhub sends no pings of its own and answers no keepalive message.
func (s *session) answerPing(data string) error {
	s.cloud.mu.Lock()
	s.cloud.pings[s.node]++
	s.cloud.notifyLocked()
	s.cloud.mu.Unlock()
	_ = s.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	return nil
}

func (s *session) write(msg *model.Message) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(15 * time.Second))
	if err := s.conn.WriteJSON(msg); err != nil { // one text frame, JSON plus newline, as viaduct
		return err
	}
	s.cloud.mu.Lock()
	s.cloud.downstream = append(s.cloud.downstream, Downstream{Node: s.node, Msg: msg, At: time.Now()})
	s.cloud.notifyLocked()
	s.cloud.mu.Unlock()
	return nil
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
		klog.Warningf("testcloud: %s reported error for %s: %s", s.node, msg.ParentID(), msg.ContentText())
		return
	}
	if model.IsCloudSource(msg.Source()) {
		return // IsFromEdge drops frames that claim a cloud source
	}
	if msg.Operation() == model.UploadOperation && msg.Group() == model.UserGroup {
		return // router traffic; no router here
	}
	select {
	case s.requests <- msg:
	default:
		klog.Warningf("testcloud: %s: %d requests waiting; dropping %s %s", s.node, requestQueue, msg.Operation(), msg.Resource())
	}
}

// serveRequests applies the session's edge requests to the API server in
// arrival order and writes each reply.
func (c *Cloud) serveRequests(s *session) {
	for {
		select {
		case <-s.done:
			return
		case msg := <-s.requests:
			reply := c.handleEdgeRequest(s.node, msg)
			if reply == nil {
				continue
			}
			if err := s.write(reply); err != nil {
				s.close(err)
				return
			}
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
			switch {
			case p.msg.Operation() == model.DeleteOperation:
				delete(c.synced, p.msg.Resource()) // the ObjectSync goes with the object
			case p.msg.Header.ResourceVersion != "":
				c.synced[p.msg.Resource()] = p.msg.Header.ResourceVersion
			}
		}
	}
	c.acks[parent]++
	c.notifyLocked()
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
