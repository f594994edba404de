package edgehub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edgehub/outbox"
	"github.com/edgegate/edgegate/edgecore/model"
)

// writer owns a session's writes: keepalives every heartbeat (cloudhub
// drops a node that sends none), pings every half read deadline for
// liveness and after writes for proof of delivery, the persisted outbox
// oldest first, then live messages. Every message but
// a keepalive enters the window when written and leaves it once the cloud
// answered a ping written after it; while the window is full nothing more
// is taken, which holds the senders back instead of memory growing.
type writer struct {
	ctx context.Context
	h   *EdgeHub
	s   *session

	pingSeq  uint64
	pings    []pingMark // written and not yet answered, oldest first
	lastMark uint64     // window mark at the last ping

	flushing bool          // the persisted outbox still has entries after flushed
	flushed  uint64        // the outbox entry last written
	sentOld  int           // outbox entries written this session
	ready    chan struct{} // closed: selects the flush step when it may run
}

// pingMark is a ping and the window mark it proves once answered.
type pingMark struct{ seq, mark uint64 }

func newWriter(ctx context.Context, h *EdgeHub, s *session) *writer {
	ready := make(chan struct{})
	close(ready)
	return &writer{ctx: ctx, h: h, s: s, flushing: true, ready: ready}
}

func (w *writer) run() error {
	if err := w.keepalive(); err != nil { // first keepalive at once, as KubeEdge
		return err
	}
	if err := w.ping(); err != nil {
		return err
	}
	heartbeat := time.NewTicker(w.h.cfg.Heartbeat)
	defer heartbeat.Stop()
	pinger := time.NewTicker(w.s.conn.PingInterval())
	defer pinger.Stop()
	for {
		var live <-chan model.Message
		var flush <-chan struct{}
		if !w.s.window.Full() {
			if w.flushing {
				flush = w.ready
			} else {
				live = w.s.out
			}
		}
		var err error
		select {
		case <-w.s.done:
			return nil
		case <-heartbeat.C:
			err = w.keepalive()
		case <-pinger.C:
			err = w.ping()
		case <-w.s.conn.Answers():
			w.release()
		case reply := <-w.s.control:
			_, err = w.s.conn.Write(w.ctx, &reply)
		case <-flush:
			err = w.flushOne()
		case msg := <-live:
			err = w.send(msg, 0)
		}
		if err == nil {
			err = w.askProof()
		}
		if err != nil {
			return err
		}
	}
}

func (w *writer) keepalive() error {
	_, err := w.s.conn.Write(w.ctx, keepalive())
	return err
}

func keepalive() *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgeHubModuleName, model.ResourceGroup,
		model.ResourceTypeNode, model.KeepaliveOperation).FillBody("ping")
}

// ping asks the cloud to confirm everything written so far.
func (w *writer) ping() error {
	w.pingSeq++
	if err := w.s.conn.Ping(w.pingSeq); err != nil {
		return err
	}
	w.lastMark = w.s.window.Mark()
	w.pings = append(w.pings, pingMark{seq: w.pingSeq, mark: w.lastMark})
	return nil
}

// askProof pings when messages were written since the last ping and no
// ping is out: at most one such ping per round trip, so confirmation
// follows the writes closely (little is sent twice after a lost link, the
// window rarely fills) for a few bytes per burst of messages.
func (w *writer) askProof() error {
	if len(w.pings) > 0 || w.s.window.Mark() == w.lastMark {
		return nil
	}
	return w.ping()
}

// release lets go of what the answered pings prove delivered; outbox
// entries among it are removed from the store now.
func (w *writer) release() {
	answered := w.s.conn.Answered()
	var mark uint64
	i := 0
	for ; i < len(w.pings) && w.pings[i].seq <= answered; i++ {
		mark = w.pings[i].mark
	}
	w.pings = w.pings[i:]
	released := w.s.window.Release(mark)
	w.h.stats.Confirmed.Add(uint64(len(released)))
	for _, s := range released {
		if s.Seq == 0 {
			continue
		}
		// Delivered; a store that fails here only means the entry goes
		// once more after the next reconnect, which the cloud takes.
		if err := w.h.box.Remove(s.Seq); err != nil {
			klog.Errorf("edgehub: removing a delivered message from the outbox: %v", err)
		}
	}
}

// send writes msg (seq is its outbox entry, 0 for a live message) and puts
// it in the window, written or not: a failed write is as unconfirmed as a
// successful one.
func (w *writer) send(msg model.Message, seq uint64) error {
	n, err := w.s.conn.Write(w.ctx, wire(msg))
	w.s.window.Add(outbox.Sent{Msg: msg, Size: n, Seq: seq})
	return err
}

// wire is msg as it goes to the cloud: viaduct forces sync off on write.
func wire(msg model.Message) *model.Message {
	msg.Header.Sync = false
	return &msg
}

// flushOne writes the next outbox entry. The entry stays in the store until
// the cloud confirms it, so neither a lost link nor a restart loses it.
func (w *writer) flushOne() error {
	e, err := w.h.box.Next(w.flushed)
	if errors.Is(err, outbox.ErrEmpty) {
		w.flushing = false
		if w.sentOld > 0 {
			klog.Infof("edgehub: sent %d queued messages to the cloud", w.sentOld)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("flush outbox: %w", err)
	}
	w.flushed = e.Seq
	w.sentOld++
	return w.send(*e.Msg, e.Seq)
}
