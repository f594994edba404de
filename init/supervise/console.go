package supervise

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// consoleQueue carries whole lines to the console from one goroutine.
// A serial console runs at about 11 KB/s; writing to it from a service's
// output path would make a chatty service block on its own stdout, so
// lines are queued and, when the queue is full, dropped and counted.
type consoleQueue struct {
	w       io.Writer
	lines   chan []byte
	mu      sync.Mutex
	dropped int
	closed  bool
	done    chan struct{}
}

const consoleQueueLines = 512

func newConsoleQueue(w io.Writer) *consoleQueue {
	q := &consoleQueue{w: w, lines: make(chan []byte, consoleQueueLines), done: make(chan struct{})}
	go q.loop()
	return q
}

func (q *consoleQueue) loop() {
	defer close(q.done)
	for l := range q.lines {
		q.mu.Lock()
		dropped := q.dropped
		q.dropped = 0
		q.mu.Unlock()
		if dropped > 0 {
			fmt.Fprintf(q.w, "console: %d service log lines dropped (console too slow)\n", dropped)
		}
		q.w.Write(l)
	}
}

func (q *consoleQueue) put(line []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	select {
	case q.lines <- line:
	default:
		q.dropped++
	}
}

// close stops taking lines and waits, until ctx ends, for the queued ones
// to reach the console (a stuck console must not hold up a shutdown).
func (q *consoleQueue) close(ctx context.Context) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.lines)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
	case <-ctx.Done():
	}
}

// linePrefixer cuts a byte stream into lines and queues "name: line".
// A line longer than maxLine is cut so one runaway write cannot hold
// memory.
type linePrefixer struct {
	prefix []byte
	q      *consoleQueue
	mu     sync.Mutex
	part   []byte
	cut    bool // the last emitted line was cut at maxLine
}

const maxLine = 4096

func newLinePrefixer(name string, q *consoleQueue) *linePrefixer {
	return &linePrefixer{prefix: []byte(name + ": "), q: q}
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.add(p)
			break
		}
		l.add(p[:i])
		if len(l.part) > 0 || !l.cut { // no empty line after a cut one
			l.emit()
		}
		l.cut = false
		p = p[i+1:]
	}
	return n, nil
}

// add appends to the partial line, emitting each maxLine-long piece.
func (l *linePrefixer) add(b []byte) {
	for len(b) > 0 {
		take := min(maxLine-len(l.part), len(b))
		l.part = append(l.part, b[:take]...)
		b = b[take:]
		if len(l.part) >= maxLine {
			l.emit()
			l.cut = true
		}
	}
}

func (l *linePrefixer) emit() {
	line := make([]byte, 0, len(l.prefix)+len(l.part)+1)
	line = append(append(append(line, l.prefix...), l.part...), '\n')
	l.part = l.part[:0]
	l.q.put(line)
}

// flush emits a trailing partial line (the service exited mid-line).
func (l *linePrefixer) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.part) > 0 {
		l.emit()
	}
}
