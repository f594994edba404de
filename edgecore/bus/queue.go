package bus

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

// queue is one module's inbox. Its channel bounds how many messages wait;
// its byte budget bounds the memory they hold (model.Message.Size), so a
// few large messages cannot fill memory where a count of 1024 would allow
// gigabytes.
type queue struct {
	name  string
	ch    chan model.Message
	bytes budget
	shed  shedCounter
}

func newQueue(name string, size int, byteBudget int64) *queue {
	return &queue{name: name, ch: make(chan model.Message, size), bytes: budget{limit: byteBudget}}
}

// put waits for room in bytes and count until expire (nil: no limit) or
// stop fires, then queues msg. It returns errNoRoom on expire and ErrClosed
// on stop.
func (q *queue) put(msg *model.Message, expire <-chan time.Time, stop <-chan struct{}) error {
	n := q.bytes.cost(msg.Size())
	if err := q.bytes.acquire(n, expire, stop); err != nil {
		return err
	}
	select {
	case q.ch <- *msg:
		return nil
	default:
	}
	select {
	case q.ch <- *msg:
		return nil
	case <-expire:
		q.bytes.release(n)
		return errNoRoom
	case <-stop:
		q.bytes.release(n)
		return ErrClosed
	}
}

// took gives back the bytes of a message taken from the channel.
func (q *queue) took(msg *model.Message) {
	q.bytes.release(q.bytes.cost(msg.Size()))
}

// budget counts bytes against a limit. Waiters are served in arrival
// order, so a large message is not starved by a stream of small ones, and
// one sender's messages enter in the order they were sent. While nobody
// waits, taking and returning bytes is one atomic operation each: the bus
// stays as fast as a bare channel.
type budget struct {
	limit   int64
	used    atomic.Int64
	waiting atomic.Int32 // senders that found no room and queued (or are about to)

	mu      sync.Mutex // guards waiters
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

// cost is what a message of size bytes takes from the budget. A message
// larger than the whole budget takes all of it: it waits for an empty
// queue and then goes in alone, rather than never.
func (b *budget) cost(size int) int64 { return min(int64(size), b.limit) }

// acquire takes n bytes, waiting while they are not free or others wait
// before it. It returns errNoRoom when expire fires first and ErrClosed
// when stop does.
func (b *budget) acquire(n int64, expire <-chan time.Time, stop <-chan struct{}) error {
	if b.waiting.Load() == 0 && b.take(n) {
		return nil
	}
	// Announce the wait before looking again, so that a release either
	// sees the waiter or happened before the look and left room for it.
	b.waiting.Add(1)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.take(n) {
		b.waiting.Add(-1)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	var err error
	select {
	case <-w.ready:
		return nil
	case <-expire:
		err = errNoRoom
	case <-stop:
		err = ErrClosed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while we gave up: hand the bytes back
		b.used.Add(-n)
	default:
		b.remove(w)
		b.waiting.Add(-1)
	}
	b.grant()
	return err
}

// take takes n bytes if they fit.
func (b *budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release returns n bytes and lets waiters in.
func (b *budget) release(n int64) {
	b.used.Add(-n)
	if b.waiting.Load() == 0 {
		return
	}
	b.mu.Lock()
	b.grant()
	b.mu.Unlock()
}

// grant admits waiters from the front while they fit. Called with mu held.
func (b *budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if !b.take(w.n) {
			return
		}
		close(w.ready)
		b.waiting.Add(-1)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}

func (b *budget) remove(w *waiter) {
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			return
		}
	}
}

// inUse is the bytes held by queued messages (and by senders between
// taking room and queueing).
func (b *budget) inUse() int64 { return b.used.Load() }
