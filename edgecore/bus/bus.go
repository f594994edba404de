// Package bus is edgecore's in-process message bus in the style of KubeEdge's
// beehive: one queue per module, named groups of modules, fire-and-forget
// sends, and synchronous requests whose replies are matched by parent
// message ID.
//
// It differs from beehive where beehive loses messages or goroutines: a reply
// slot is registered (and buffered) before a request is sent, so a reply that
// arrives before the caller waits is kept; sends and receives end when the bus
// closes instead of blocking forever; a message for an unknown module is
// logged and counted, never a panic.
//
// Each module's queue is bounded twice: by count (1024 messages, beehive's
// channel size) and by bytes (8 MiB by default, WithByteBudget), where a
// message weighs model.Message.Size: its raw JSON content, its strings and
// a fixed overhead. A message larger than the whole budget waits for an
// empty queue and goes in alone. When a queue is full:
//
//   - Send, SendToGroup and the send of SendSync wait for room (SendSync
//     no longer than its timeout): edge modules are trusted, and a status
//     update must not be lost because a peer is briefly busy.
//   - A Shedder (Bus.Shedding), the view the cloud link sends through,
//     waits at most its shed wait (2 s by default), then drops the message,
//     counts it per queue (Stats) and logs one warning per queue per 10 s.
//     The link thus never blocks for long, memory stays bounded whatever
//     the cloud sends, and the cloud sends an unacknowledged message again.
//   - Replies (SendResp) never wait: each waiting request has its own slot.
package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// DefaultChannelSize is the number of messages each module's queue holds
// (beehive's ChannelSizeDefault).
const DefaultChannelSize = 1024

// DefaultByteBudget is the bytes each module's queue holds: one message at
// edgehub's default frame limit (8 MiB), or the 1024 messages of the count
// bound at 8 KiB each, a typical pod.
const DefaultByteBudget = 8 << 20

var (
	// ErrUnknownModule is returned for a destination no module registered.
	ErrUnknownModule = errors.New("unknown module")
	// ErrUnknownGroup is returned for a group with no members.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrClosed is returned once the bus is closed.
	ErrClosed = errors.New("bus closed")
	// ErrTimeout is returned when a synchronous request gets no reply in time.
	ErrTimeout = errors.New("timed out waiting for reply")
	// ErrDuplicateID is returned when a synchronous request reuses the ID of
	// one still waiting.
	ErrDuplicateID = errors.New("message ID already waiting for a reply")
)

// Bus routes messages between modules. The zero value is not usable; call New.
type Bus struct {
	channelSize int
	byteBudget  int64

	mu     sync.Mutex             // serialises changes to routes
	routes atomic.Pointer[routes] // copy-on-write, read without locks

	done      chan struct{}
	closeOnce sync.Once

	pending pending

	dropped   atomic.Uint64 // messages for unknown modules or groups
	unmatched atomic.Uint64 // responses nobody waited for
	warned    sync.Map      // destination → struct{}: first drop logged loudly
}

// routes is an immutable snapshot of who is registered.
type routes struct {
	modules map[string]*queue
	groups  map[string][]member
}

type member struct {
	name string
	q    *queue
}

// Option changes how New builds a Bus.
type Option func(*Bus)

// WithChannelSize sets each module's channel buffer.
func WithChannelSize(n int) Option {
	return func(b *Bus) {
		if n > 0 {
			b.channelSize = n
		}
	}
}

// WithByteBudget sets the bytes each module's queue holds.
func WithByteBudget(n int64) Option {
	return func(b *Bus) {
		if n > 0 {
			b.byteBudget = n
		}
	}
}

// New returns an empty, open bus.
func New(opts ...Option) *Bus {
	b := &Bus{channelSize: DefaultChannelSize, byteBudget: DefaultByteBudget, done: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	b.pending.calls = make(map[string]*call)
	b.routes.Store(&routes{modules: map[string]*queue{}, groups: map[string][]member{}})
	return b
}

// AddModule creates the channel of module name. Adding a name twice keeps
// the first channel, so messages already queued are not lost.
func (b *Bus) AddModule(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.routes.Load()
	if _, ok := old.modules[name]; ok {
		return
	}
	next := old.clone()
	next.modules[name] = newQueue(name, b.channelSize, b.byteBudget)
	b.routes.Store(next)
}

// AddModuleGroup puts module name (which must be added) into group.
func (b *Bus) AddModuleGroup(name, group string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.routes.Load()
	q, ok := old.modules[name]
	if !ok {
		return fmt.Errorf("add %q to group %q: %w", name, group, ErrUnknownModule)
	}
	for _, m := range old.groups[group] {
		if m.name == name {
			return nil
		}
	}
	next := old.clone()
	next.groups[group] = append(append([]member(nil), old.groups[group]...), member{name: name, q: q})
	b.routes.Store(next)
	return nil
}

// Modules returns the registered module names of group.
func (b *Bus) Modules(group string) []string {
	var names []string
	for _, m := range b.routes.Load().groups[group] {
		names = append(names, m.name)
	}
	return names
}

// HasModule reports whether name is registered.
func (b *Bus) HasModule(name string) bool {
	_, ok := b.routes.Load().modules[name]
	return ok
}

// Close ends every blocked Send, Receive and SendSync with ErrClosed.
// Channels are never closed, so a late sender cannot panic.
func (b *Bus) Close() {
	b.closeOnce.Do(func() { close(b.done) })
}

// Done is closed when the bus is closed.
func (b *Bus) Done() <-chan struct{} { return b.done }

// Dropped counts messages sent to an unknown module or group.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// UnmatchedResponses counts responses for which no request was waiting.
func (b *Bus) UnmatchedResponses() uint64 { return b.unmatched.Load() }

// QueueStats describes one module's queue.
type QueueStats struct {
	Messages   int    `json:"messages"`   // waiting now
	Bytes      int64  `json:"bytes"`      // their size (model.Message.Size)
	ByteBudget int64  `json:"byteBudget"` // the most it holds
	Shed       uint64 `json:"shed"`       // dropped by a Shedder: full for the whole shed wait
}

// Stats returns the state of every module's queue.
func (b *Bus) Stats() map[string]QueueStats {
	out := map[string]QueueStats{}
	for name, q := range b.routes.Load().modules {
		out[name] = QueueStats{Messages: len(q.ch), Bytes: q.bytes.inUse(), ByteBudget: q.bytes.limit, Shed: q.shed.total.Load()}
	}
	return out
}

// Shed counts the messages Shedders dropped, all queues together.
func (b *Bus) Shed() uint64 {
	var n uint64
	for _, q := range b.routes.Load().modules {
		n += q.shed.total.Load()
	}
	return n
}

// Send puts msg on module's queue, waiting while the queue is full. It
// returns ErrUnknownModule (after logging and counting the drop) or ErrClosed.
func (b *Bus) Send(module string, msg model.Message) error {
	q, ok := b.routes.Load().modules[module]
	if !ok {
		return b.drop("module", module, &msg, ErrUnknownModule)
	}
	return q.put(&msg, nil, b.done)
}

// Receive takes the next message for module, waiting until one arrives, ctx
// ends or the bus closes.
func (b *Bus) Receive(ctx context.Context, module string) (model.Message, error) {
	q, ok := b.routes.Load().modules[module]
	if !ok {
		return model.Message{}, fmt.Errorf("receive for %q: %w", module, ErrUnknownModule)
	}
	select {
	case msg := <-q.ch:
		q.took(&msg)
		return msg, nil
	default:
	}
	select {
	case msg := <-q.ch:
		q.took(&msg)
		return msg, nil
	case <-ctx.Done():
		return model.Message{}, ctx.Err()
	case <-b.done:
		return model.Message{}, ErrClosed
	}
}

// SendToGroup sends msg to every member of group, one after the other, so
// each member sees messages in the order they were sent.
func (b *Bus) SendToGroup(group string, msg model.Message) error {
	members := b.routes.Load().groups[group]
	if len(members) == 0 {
		return b.drop("group", group, &msg, ErrUnknownGroup)
	}
	for _, m := range members {
		if err := m.q.put(&msg, nil, b.done); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bus) drop(kind, name string, msg *model.Message, err error) error {
	b.dropped.Add(1)
	if _, seen := b.warned.LoadOrStore(kind+"/"+name, struct{}{}); !seen {
		klog.Warningf("bus: %s %q is not registered; dropping message %s (%s %s); further drops for it are logged at V(4)",
			kind, name, msg.Header.ID, msg.Router.Operation, msg.Router.Resource)
	} else {
		klog.V(4).Infof("bus: %s %q is not registered; dropping message %s", kind, name, msg.Header.ID)
	}
	return fmt.Errorf("send to %s %q: %w", kind, name, err)
}

func (r *routes) clone() *routes {
	n := &routes{modules: make(map[string]*queue, len(r.modules)+1), groups: make(map[string][]member, len(r.groups)+1)}
	for k, v := range r.modules {
		n.modules[k] = v
	}
	for k, v := range r.groups {
		n.groups[k] = v
	}
	return n
}
