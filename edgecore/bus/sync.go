package bus

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// DefaultTimeout is used by SendSync and SendToGroupSync when the timeout
// given is zero or negative (beehive's MessageTimeoutDefault).
const DefaultTimeout = 30 * time.Second

// pending holds the reply slots of requests that wait for an answer, keyed
// by request message ID.
type pending struct {
	mu    sync.Mutex
	calls map[string]*call
}

// call is one waiting request. Its reply channel is buffered with room for
// every expected reply, so SendResp never blocks and never loses a reply
// that arrives before the caller starts waiting.
type call struct {
	replies chan model.Message
	timer   *time.Timer
}

// callPool recycles single-reply calls; a round trip then allocates nothing
// for its slot or timer.
var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{replies: make(chan model.Message, 1), timer: t}
}}

func (p *pending) add(id string, c *call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, busy := p.calls[id]; busy {
		return fmt.Errorf("message %s: %w", id, ErrDuplicateID)
	}
	p.calls[id] = c
	return nil
}

func (p *pending) remove(id string) {
	p.mu.Lock()
	delete(p.calls, id)
	p.mu.Unlock()
}

// deliver hands resp to the call waiting for parent. It holds the lock while
// it puts the reply so that remove, once it returns, guarantees no later
// put: the caller can then drain and recycle the slot safely.
func (p *pending) deliver(parent string, resp model.Message) (delivered, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.calls[parent]
	if !ok {
		return false, false
	}
	select {
	case c.replies <- resp:
		return true, true
	default: // more replies than expected
		return false, true
	}
}

// prepareSync marks msg as a synchronous request, giving it an ID if it has
// none, and returns the timeout to use (DefaultTimeout for ≤ 0).
func prepareSync(msg *model.Message, timeout time.Duration) time.Duration {
	if msg.Header.ID == "" {
		msg.Header.ID = uuid.NewString()
	}
	msg.Header.Sync = true
	if timeout <= 0 {
		return DefaultTimeout
	}
	return timeout
}

// SendSync sends msg to module and waits for the reply sent with SendResp
// (matched by the reply's parent_msg_id). It sets header.sync and, if empty,
// the message ID. A timeout ≤ 0 means DefaultTimeout.
func (b *Bus) SendSync(module string, msg model.Message, timeout time.Duration) (model.Message, error) {
	timeout = prepareSync(&msg, timeout)
	q, ok := b.routes.Load().modules[module]
	if !ok {
		return model.Message{}, b.drop("module", module, &msg, ErrUnknownModule)
	}

	c := callPool.Get().(*call)
	if err := b.pending.add(msg.Header.ID, c); err != nil {
		callPool.Put(c)
		return model.Message{}, err
	}
	c.timer.Reset(timeout)
	resp, err := b.sendAndWait(q, msg, c)
	b.pending.remove(msg.Header.ID)
	c.timer.Stop()
	// After remove no reply can land any more. One may have landed
	// between the timeout and remove: it is still a reply, so take it
	// rather than report a timeout. On success anything left is a
	// duplicate; drain it so the recycled slot starts empty.
	select {
	case late := <-c.replies:
		if err != nil {
			resp, err = late, nil
		} else {
			b.unmatched.Add(1)
		}
	default:
	}
	callPool.Put(c)
	if err != nil {
		return model.Message{}, fmt.Errorf("sync %s %s to %q (message %s, %v): %w",
			msg.Router.Operation, msg.Router.Resource, module, msg.Header.ID, timeout, err)
	}
	return resp, nil
}

func (b *Bus) sendAndWait(q *queue, msg model.Message, c *call) (model.Message, error) {
	if err := q.put(&msg, c.timer.C, b.done); err != nil {
		return model.Message{}, timeoutIfNoRoom(err)
	}
	select {
	case resp := <-c.replies:
		return resp, nil
	case <-c.timer.C:
		return model.Message{}, ErrTimeout
	case <-b.done:
		return model.Message{}, ErrClosed
	}
}

// SendResp delivers resp to the SendSync or SendToGroupSync waiting for
// resp's parent_msg_id. It never blocks. It reports whether a waiting
// request took the reply; a reply nobody waits for is logged and counted.
func (b *Bus) SendResp(resp model.Message) bool {
	delivered, known := b.pending.deliver(resp.Header.ParentID, resp)
	if !delivered {
		b.unmatched.Add(1)
		reason := "no request is waiting (timed out or never sent)"
		if known {
			reason = "the request already has all the replies it expects"
		}
		klog.V(2).Infof("bus: dropping response %s to %s: %s", resp.Header.ID, resp.Header.ParentID, reason)
	}
	return delivered
}

// SendToGroupSync sends msg to every member of group and waits until each
// has replied with SendResp, returning the replies in arrival order. A
// timeout ≤ 0 means DefaultTimeout.
func (b *Bus) SendToGroupSync(group string, msg model.Message, timeout time.Duration) ([]model.Message, error) {
	timeout = prepareSync(&msg, timeout)
	members := b.routes.Load().groups[group]
	if len(members) == 0 {
		return nil, b.drop("group", group, &msg, ErrUnknownGroup)
	}
	c := &call{replies: make(chan model.Message, len(members)), timer: time.NewTimer(timeout)}
	defer c.timer.Stop()
	if err := b.pending.add(msg.Header.ID, c); err != nil {
		return nil, err
	}
	defer b.pending.remove(msg.Header.ID)

	fail := func(err error) ([]model.Message, error) {
		return nil, fmt.Errorf("sync %s %s to group %q (message %s, %v): %w",
			msg.Router.Operation, msg.Router.Resource, group, msg.Header.ID, timeout, err)
	}
	for _, m := range members {
		if err := m.q.put(&msg, c.timer.C, b.done); err != nil {
			return fail(timeoutIfNoRoom(err))
		}
	}
	replies := make([]model.Message, 0, len(members))
	for len(replies) < len(members) {
		select {
		case r := <-c.replies:
			replies = append(replies, r)
		case <-c.timer.C:
			return fail(fmt.Errorf("%d of %d members replied: %w", len(replies), len(members), ErrTimeout))
		case <-b.done:
			return fail(ErrClosed)
		}
	}
	return replies, nil
}

// timeoutIfNoRoom reports a queue that stayed full until a request's
// deadline as the request's timeout.
func timeoutIfNoRoom(err error) error {
	if errors.Is(err, errNoRoom) {
		return ErrTimeout
	}
	return err
}

func (p *pending) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}
