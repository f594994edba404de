package outbox

import "github.com/edgegate/edgegate/edgecore/model"

// Window holds the messages written to the cloud link whose arrival is not
// yet proven, in the order written. A write that succeeded proves only that
// the frame reached the local TCP buffer; a half-open connection accepts
// frames for minutes and delivers none. The session releases messages once
// the cloud answered a ping written after them, and when the link fails it
// takes back what is left, to send again after reconnect.
//
// Window is bounded in messages and bytes, and the session stops writing
// while it is full, so an unanswered link holds a bounded amount of memory.
// It is not safe for concurrent use: the session's writer owns it.
type Window struct {
	maxEntries, maxBytes int

	sent  []Sent
	bytes int
	base  uint64 // mark of sent[0]: messages added before it were released
}

// Sent is one message written to the link.
type Sent struct {
	Msg  model.Message
	Size int    // its frame's size in bytes
	Seq  uint64 // its entry in the persisted Outbox, 0 for a message sent live
}

// NewWindow returns an empty window holding at most maxEntries messages and
// maxBytes bytes (one message of any size when it is empty).
func NewWindow(maxEntries, maxBytes int) *Window {
	return &Window{maxEntries: max(maxEntries, 1), maxBytes: max(maxBytes, 1)}
}

// Add records s as written (or as attempted: a failed write is kept too).
func (w *Window) Add(s Sent) {
	w.sent = append(w.sent, s)
	w.bytes += s.Size
}

// Mark counts the messages added so far. A ping written now proves, once
// answered, every message below this mark.
func (w *Window) Mark() uint64 { return w.base + uint64(len(w.sent)) }

// Release removes the messages below mark, proven delivered, and returns
// them oldest first.
func (w *Window) Release(mark uint64) []Sent {
	if mark <= w.base {
		return nil
	}
	n := int(min(mark-w.base, uint64(len(w.sent))))
	out := make([]Sent, n)
	copy(out, w.sent[:n])
	clear(w.sent[:n]) // let the messages go
	w.sent = w.sent[n:]
	w.base += uint64(n)
	for _, s := range out {
		w.bytes -= s.Size
	}
	return out
}

// Drain empties the window and returns what it held, oldest first.
func (w *Window) Drain() []Sent {
	out := w.sent
	w.base += uint64(len(out))
	w.sent, w.bytes = nil, 0
	return out
}

// Full reports that no message may be added until some are released. An
// empty window is never full, so a message larger than maxBytes still goes.
func (w *Window) Full() bool {
	return len(w.sent) > 0 && (len(w.sent) >= w.maxEntries || w.bytes >= w.maxBytes)
}

// Len and Bytes measure what the window holds.
func (w *Window) Len() int   { return len(w.sent) }
func (w *Window) Bytes() int { return w.bytes }
