package events

import (
	"container/list"

	v1 "k8s.io/api/core/v1"
)

// write is one event waiting for the cloud: its latest state. Whether it
// goes as a create or a patch is decided when it is sent, from what the
// cloud has of its series by then.
type write struct {
	event  *v1.Event
	series *series
	size   int // bytes it holds against the queue's bound
}

// queue holds the events not yet sent, oldest first, one entry per event
// object: a repeat of a waiting event replaces it, keeping its place. It
// is bounded in bytes; past the bound the oldest entries are dropped. It
// is not safe for concurrent use.
type queue struct {
	max     int
	bytes   int
	order   *list.List // values are *write
	byName  map[string]*list.Element
	dropped uint64
}

func newQueue(maxBytes int) *queue {
	return &queue{max: maxBytes, order: list.New(), byName: map[string]*list.Element{}}
}

// put queues w, or merges it into the waiting write of the same event,
// and returns the writes dropped to stay within the bound (oldest first).
// A write larger than the whole bound is dropped itself.
func (q *queue) put(w *write) []*write {
	if e, ok := q.byName[w.event.Name]; ok {
		q.bytes += w.size - e.Value.(*write).size
		e.Value = w
	} else {
		q.byName[w.event.Name] = q.order.PushBack(w)
		q.bytes += w.size
	}
	return q.trim()
}

// pop takes the oldest write.
func (q *queue) pop() (*write, bool) {
	e := q.order.Front()
	if e == nil {
		return nil, false
	}
	return q.remove(e), true
}

// requeue puts back a write that could not be sent, first in line, and
// returns what the bound then drops. A newer write of the same event,
// queued meanwhile, stays instead: it carries the event's latest state.
func (q *queue) requeue(w *write) []*write {
	if _, ok := q.byName[w.event.Name]; ok {
		return nil
	}
	q.byName[w.event.Name] = q.order.PushFront(w)
	q.bytes += w.size
	return q.trim()
}

// trim drops the oldest writes until the queue is within its bound.
func (q *queue) trim() []*write {
	var dropped []*write
	for q.bytes > q.max && q.order.Len() > 0 {
		dropped = append(dropped, q.remove(q.order.Front()))
	}
	q.dropped += uint64(len(dropped))
	return dropped
}

func (q *queue) remove(e *list.Element) *write {
	w := e.Value.(*write)
	q.order.Remove(e)
	delete(q.byName, w.event.Name)
	q.bytes -= w.size
	return w
}

func (q *queue) len() int { return q.order.Len() }
