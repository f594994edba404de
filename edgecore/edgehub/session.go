package edgehub

import (
	"context"
	"errors"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edgehub/link"
	"github.com/edgegate/edgegate/edgecore/edgehub/outbox"
	"github.com/edgegate/edgegate/edgecore/model"
)

// session is one live connection: a reader dispatching cloud messages and a
// writer owning all writes and the window of messages the cloud has not yet
// confirmed.
type session struct {
	conn *link.Conn
	out  chan model.Message // unbuffered: a message is either taken by the writer or stays with the sender
	// control carries the replies to viaduct control messages; the reader
	// must never wait for the writer, which may be waiting for a pong.
	control chan model.Message
	window  *outbox.Window
	done    chan struct{} // closed when the session ends
	drained chan struct{} // closed once the window's messages were handled as offline
}

// controlReplies bounds the control replies waiting for the writer.
const controlReplies = 16

// serve runs one session until it fails or ctx ends. What the cloud had not
// confirmed when it ends is handled as if sent offline: queued for the next
// session, its senders told.
func (h *EdgeHub) serve(ctx context.Context, conn *link.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{
		conn: conn, out: make(chan model.Message), control: make(chan model.Message, controlReplies),
		window: outbox.NewWindow(h.cfg.WindowSize, h.cfg.WindowBytes),
		done:   make(chan struct{}), drained: make(chan struct{}),
	}
	// Publish the session before reading: an ack for the first cloud
	// message must find it, not be taken for an offline send.
	h.setSession(s)
	readErr, writeErr := make(chan error, 1), make(chan error, 1)
	go func() { readErr <- h.readLoop(s) }()
	go func() { writeErr <- newWriter(ctx, h, s).run() }()
	klog.Infof("edgehub: connected to %s as %s", h.cfg.Server, h.cfg.NodeName)
	h.announce(model.CloudConnected)

	var err error
	writerDone := false
	select {
	case err = <-readErr:
	case err = <-writeErr:
		writerDone = true
	case <-ctx.Done():
		err = ctx.Err()
	case <-h.certs.Rotated():
		err = errRotated
	}
	close(s.done)
	cancel()
	conn.Close()
	if !writerDone {
		<-writeErr // the window is the writer's until it returns
	}
	h.requeue(s.window.Drain())
	close(s.drained)
	h.setSession(nil)
	h.announce(model.CloudDisconnected)
	if errors.Is(err, link.ErrSilent) {
		h.stats.SilentLinks.Add(1)
	}
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
			case s.control <- *reply:
			default:
				klog.Warningf("edgehub: dropped the reply to control message %s (%s): %d replies already waiting",
					msg.Header.ID, msg.Router.Operation, controlReplies)
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

// requeue handles what a lost link left unconfirmed, oldest first. Entries
// of the persisted outbox are still there and go again from there.
func (h *EdgeHub) requeue(unconfirmed []outbox.Sent) {
	if len(unconfirmed) == 0 {
		return
	}
	again := 0
	for _, s := range unconfirmed {
		if s.Seq != 0 || h.offline(s.Msg, "the link to the cloud was lost before the cloud confirmed the request") {
			again++
		}
	}
	h.stats.Unconfirmed.Add(uint64(len(unconfirmed)))
	klog.Warningf("edgehub: %d messages written since the cloud last confirmed receipt; %d will be sent again after reconnect, the senders of the rest were told to retry",
		len(unconfirmed), again)
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
			h.offline(msg, notConnected)
			continue
		}
		select {
		case s.out <- msg:
		case <-s.done:
			// The session's unconfirmed messages are older than this
			// one: they go into the outbox first, so coalescing keeps
			// the newest status.
			<-s.drained
			h.offline(msg, notConnected)
		case <-ctx.Done():
			return
		}
	}
}

const notConnected = "not connected to the cloud"

// offline handles a message for the cloud that cannot go now: the link is
// down, or it failed before the cloud confirmed the message. It reports
// whether the message was queued for after reconnect.
//
// Keepalives are dropped: each session sends its own. What was sent
// without waiting is queued: status updates, events, replies to the cloud
// (an ack spares the cloud a resend; one it no longer waits for is
// ignored). A sender waiting in SendSync is answered at once with an
// error, as KubeEdge's metamanager answers "not connected", and retries in
// its own time with fresh data, so its request is queued only when it is
// a status patch: the newest status then reaches the cloud even if the
// sender has nothing new to say.
func (h *EdgeHub) offline(msg model.Message, why string) bool {
	op := msg.Router.Operation
	if op == model.KeepaliveOperation {
		return false
	}
	waiting := msg.Header.Sync
	queued := !waiting || op == model.PatchOperation
	if queued {
		msg.Header.Sync = false // the copy in the outbox waits for nobody
		if err := h.box.Push(&msg); err != nil {
			klog.Errorf("edgehub: cannot queue %s %s for the cloud: %v", op, msg.Router.Resource, err)
			queued = false
		} else {
			h.stats.QueuedOffline.Add(1)
		}
	}
	if waiting {
		text := "edgehub: " + why
		if queued {
			text += "; queued for delivery after reconnect"
		}
		if h.bus.SendResp(*model.NewErrorMessage(&msg, text)) {
			h.stats.RefusedOffline.Add(1)
		}
	}
	return queued
}
