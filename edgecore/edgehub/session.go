package edgehub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edgehub/link"
	"github.com/edgegate/edgegate/edgecore/edgehub/outbox"
	"github.com/edgegate/edgegate/edgecore/model"
)

// session is one live connection: a reader dispatching cloud messages and a
// writer owning all writes (queued messages first, then live ones, and the
// keepalive).
type session struct {
	conn *link.Conn
	out  chan model.Message // unbuffered: a message is either written or stays with the sender
	done chan struct{}
}

// serve runs one session until it fails or ctx ends.
func (h *EdgeHub) serve(ctx context.Context, conn *link.Conn) error {
	s := &session{conn: conn, out: make(chan model.Message), done: make(chan struct{})}
	// Publish the session before reading: an ack for the first cloud
	// message must find it, not be taken for an offline send.
	h.setSession(s)
	errc := make(chan error, 2)
	go func() { errc <- h.readLoop(s) }()
	go func() { errc <- h.writeLoop(ctx, s) }()
	klog.Infof("edgehub: connected to %s as %s", h.cfg.Server, h.cfg.NodeName)
	h.announce(model.CloudConnected)

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		err = ctx.Err()
	case <-h.certs.Rotated():
		err = errRotated
	}
	h.setSession(nil)
	close(s.done)
	conn.Close()
	h.announce(model.CloudDisconnected)
	return err
}

func (h *EdgeHub) setSession(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.session = s
}

func (h *EdgeHub) readLoop(s *session) error {
	for {
		msg, err := s.conn.Read()
		if err != nil {
			return err
		}
		if reply := controlReply(msg); reply != nil {
			select {
			case s.out <- *reply:
			case <-s.done:
				return nil
			}
			continue
		}
		h.dispatch(msg)
	}
}

// controlReply answers viaduct's control messages (config/ping/pong) with
// "ack" and keeps them from the modules, as KubeEdge's conn does.
func controlReply(msg *model.Message) *model.Message {
	switch msg.Router.Operation {
	case "config", "ping", "pong":
		return model.NewRespByMessage(msg, "ack")
	}
	return nil
}

func keepalive() *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgeHubModuleName, model.ResourceGroup,
		model.ResourceTypeNode, model.KeepaliveOperation).FillBody("ping")
}

func (h *EdgeHub) writeLoop(ctx context.Context, s *session) error {
	if err := s.conn.Write(ctx, keepalive()); err != nil { // first keepalive at once
		return err
	}
	if err := h.flushOutbox(ctx, s.conn); err != nil {
		return err
	}
	tick := time.NewTicker(h.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return nil
		case <-tick.C:
			if err := s.conn.Write(ctx, keepalive()); err != nil {
				return err
			}
		case msg := <-s.out:
			if err := s.conn.Write(ctx, wire(msg)); err != nil {
				h.offline(msg)
				return err
			}
		}
	}
}

// wire is msg as it goes to the cloud: viaduct forces sync off on write.
func wire(msg model.Message) *model.Message {
	msg.Header.Sync = false
	return &msg
}

// flushOutbox sends what was queued while offline, oldest first, removing
// each entry only after it was written.
func (h *EdgeHub) flushOutbox(ctx context.Context, conn *link.Conn) error {
	sent := 0
	for {
		e, err := h.box.Peek()
		if errors.Is(err, outbox.ErrEmpty) {
			if sent > 0 {
				klog.Infof("edgehub: delivered %d queued messages to the cloud", sent)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("flush outbox: %w", err)
		}
		if err := conn.Write(ctx, wire(*e.Msg)); err != nil {
			return err
		}
		if err := h.box.Remove(e.Seq); err != nil {
			return fmt.Errorf("flush outbox: %w", err)
		}
		sent++
	}
}

// pumpUpstream takes every message modules send to "websocket" and hands it
// to the live session's writer, or handles it offline.
func (h *EdgeHub) pumpUpstream(ctx context.Context) {
	for {
		msg, err := h.bus.Receive(ctx, model.EdgeHubModuleName)
		if err != nil {
			if ctx.Err() == nil {
				klog.Errorf("edgehub: receive from bus: %v", err)
			}
			return
		}
		h.mu.Lock()
		s := h.session
		h.mu.Unlock()
		if s == nil {
			h.offline(msg)
			continue
		}
		select {
		case s.out <- msg:
		case <-s.done:
			h.offline(msg)
		case <-ctx.Done():
			return
		}
	}
}

// offline handles a message for the cloud while there is no link. A caller
// blocked in SendSync gets an error at once (as KubeEdge's metamanager
// answers "not connected"), but a status patch is also queued so the cloud
// sees the newest status after reconnect; acks and keepalives are dropped
// because the cloud resends unacked messages itself; the rest is queued.
func (h *EdgeHub) offline(msg model.Message) {
	op := msg.Router.Operation
	if op == model.KeepaliveOperation || op == model.ResponseOperation {
		return
	}
	queue := !msg.Header.Sync || op == model.PatchOperation
	if queue {
		if err := h.box.Push(&msg); err != nil {
			klog.Errorf("edgehub: cannot queue %s %s for the cloud: %v", op, msg.Router.Resource, err)
			queue = false
		} else {
			h.stats.QueuedOffline.Add(1)
		}
	}
	if msg.Header.Sync {
		h.stats.RefusedOffline.Add(1)
		text := "edgehub: not connected to the cloud"
		if queue {
			text += "; queued for delivery after reconnect"
		}
		h.bus.SendResp(*model.NewErrorMessage(&msg, text))
	}
}
