package qemu

import (
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"
)

// Console collects a guest's serial output and lets callers wait for it.
type Console struct {
	mu      sync.Mutex
	buf     []byte
	cursor  int           // Expect matches only past this offset
	changed chan struct{} // closed and replaced on every append
	closed  bool          // the guest's output ended
	tee     io.Writer
}

func newConsole(tee io.Writer) *Console {
	return &Console{changed: make(chan struct{}), tee: tee}
}

// Write appends guest output.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if c.tee != nil {
		c.tee.Write(p)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.changed)
	}
}

// String returns everything the guest printed so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// Expect waits until output past the last match matches re, and returns
// the submatches. It fails when the timeout passes or the guest stops
// printing for good (QEMU exited), with the end of the output in the
// error so a failing test shows what the guest said.
func (c *Console) Expect(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		loc := re.FindSubmatchIndex(c.buf[c.cursor:])
		if loc != nil {
			sub := make([]string, len(loc)/2)
			for i := range sub {
				if loc[2*i] >= 0 {
					sub[i] = string(c.buf[c.cursor+loc[2*i] : c.cursor+loc[2*i+1]])
				}
			}
			c.cursor += loc[1]
			c.mu.Unlock()
			return sub, nil
		}
		changed, closed := c.changed, c.closed
		tail := c.tailLocked(2000)
		c.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("console never matched %q: QEMU exited; last output:\n%s", re, tail)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, fmt.Errorf("console did not match %q within %v; last output:\n%s", re, timeout, tail)
		}
	}
}

func (c *Console) tailLocked(n int) string {
	if len(c.buf) <= n {
		return string(c.buf)
	}
	return string(c.buf[len(c.buf)-n:])
}
