package boot

import (
	"fmt"
	"io"
	"sync"
)

// Console writes init's one-line reports ("edgegate: ...") to the serial
// console, where people and the QEMU tests read them.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a Console writing to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Say prints one line.
func (c *Console) Say(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "edgegate: "+format+"\n", a...)
}
