package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// DefaultShedWait is how long a Shedder waits for room in a full queue
// before it drops the message.
const DefaultShedWait = 2 * time.Second

// shedLogInterval spaces the warnings about dropped messages: one line per
// queue per interval, with the count since the last line.
const shedLogInterval = 10 * time.Second

// ErrQueueFull is returned by a Shedder's sends when the destination's
// queue had no room for the whole wait and the message was dropped.
var ErrQueueFull = errors.New("queue full")

// errNoRoom is a queue's answer when its wait expired.
var errNoRoom = errors.New("no room in the queue")

// Shedder is a view of a Bus for a sender that must keep moving whatever
// the receivers do: edgecore's cloud link. Its Send and SendToGroup wait
// for room in a full queue at most the shed wait (back-pressure: the link
// stops reading, so the cloud's frames wait in TCP rather than in memory),
// then drop the message, count it, log at most once per 10 s per queue,
// and return ErrQueueFull. A dropped cloud message is not acknowledged, so
// the cloud sends it again.
//
// Connection notices (source model.SourceNodeConnection) wait as a plain
// Send does: no one would send them again, and there is one per connect or
// disconnect. Receive, SendResp and Modules are the Bus's own.
type Shedder struct {
	b    *Bus
	wait time.Duration
}

// Shedding returns the shedding view of b. A wait ≤ 0 means
// DefaultShedWait.
func (b *Bus) Shedding(wait time.Duration) *Shedder {
	if wait <= 0 {
		wait = DefaultShedWait
	}
	return &Shedder{b: b, wait: wait}
}

// Send puts msg on module's queue, dropping it if the queue stays full for
// the shed wait.
func (s *Shedder) Send(module string, msg model.Message) error {
	if mustKeep(&msg) {
		return s.b.Send(module, msg)
	}
	q, ok := s.b.routes.Load().modules[module]
	if !ok {
		return s.b.drop("module", module, &msg, ErrUnknownModule)
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	return s.put(q, &msg, timer.C)
}

// SendToGroup sends msg to every member of group, member after member,
// within one shed wait for the whole group; a member whose queue stays
// full misses the message.
func (s *Shedder) SendToGroup(group string, msg model.Message) error {
	if mustKeep(&msg) {
		return s.b.SendToGroup(group, msg)
	}
	members := s.b.routes.Load().groups[group]
	if len(members) == 0 {
		return s.b.drop("group", group, &msg, ErrUnknownGroup)
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	var errs []error
	for _, m := range members {
		err := s.put(m.q, &msg, timer.C)
		if errors.Is(err, ErrClosed) {
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Shedder) put(q *queue, msg *model.Message, expire <-chan time.Time) error {
	err := q.put(msg, expire, s.b.done)
	if !errors.Is(err, errNoRoom) {
		return err
	}
	q.shed.add(q, s.wait)
	return fmt.Errorf("send %s %s (message %s) to %q: %w after %s", msg.Router.Operation, msg.Router.Resource, msg.Header.ID, q.name, ErrQueueFull, s.wait)
}

// mustKeep reports whether msg is exempt from shedding.
func mustKeep(msg *model.Message) bool { return msg.Router.Source == model.SourceNodeConnection }

// Receive, SendResp and Modules are the Bus's.
func (s *Shedder) Receive(ctx context.Context, module string) (model.Message, error) {
	return s.b.Receive(ctx, module)
}
func (s *Shedder) SendResp(resp model.Message) bool { return s.b.SendResp(resp) }
func (s *Shedder) Modules(group string) []string    { return s.b.Modules(group) }

// shedCounter counts a queue's dropped messages and rate-limits the
// warning about them.
type shedCounter struct {
	total     atomic.Uint64
	unlogged  atomic.Uint64
	lastLogNs atomic.Int64
}

func (c *shedCounter) add(q *queue, wait time.Duration) {
	total := c.total.Add(1)
	c.unlogged.Add(1)
	now := time.Now().UnixNano()
	last := c.lastLogNs.Load()
	if last != 0 && now-last < int64(shedLogInterval) {
		return
	}
	if !c.lastLogNs.CompareAndSwap(last, now) {
		return // another sender logs this round
	}
	n := c.unlogged.Swap(0)
	klog.Warningf("bus: queue of %s stayed full for %s (%d messages, %d of %d bytes): %d messages dropped since the last report, %d in all; the cloud sends what it sees unacknowledged again",
		q.name, wait, len(q.ch), q.bytes.inUse(), q.bytes.limit, n, total)
}
