package netconf

import (
	"context"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"
)

// linkWatch follows one interface's carrier through netlink updates.
type linkWatch struct {
	name string
	mu   sync.Mutex
	up   bool
	down chan struct{} // closed when the link goes down while up
	upCh chan struct{} // closed when the link comes up while down
}

func watchLink(ctx context.Context, name string) (*linkWatch, error) {
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return nil, fmt.Errorf("watch %s: %w", name, err)
	}
	w := &linkWatch{name: name, down: make(chan struct{}), upCh: make(chan struct{})}
	l, err := netlink.LinkByName(name)
	if err != nil {
		close(done)
		return nil, fmt.Errorf("watch %s: %w", name, err)
	}
	w.set(running(l.Attrs()))
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Attrs().Name == name {
					w.set(running(u.Attrs()))
				}
			}
		}
	}()
	return w, nil
}

func (w *linkWatch) set(up bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if up == w.up {
		return
	}
	w.up = up
	if up {
		close(w.upCh)
		w.down = make(chan struct{})
	} else {
		close(w.down)
		w.upCh = make(chan struct{})
	}
}

// waitUp blocks until the link is running and returns a channel closed
// when it next goes down; an error only when ctx ended.
func (w *linkWatch) waitUp(ctx context.Context) (<-chan struct{}, error) {
	for {
		w.mu.Lock()
		up, upCh, down := w.up, w.upCh, w.down
		w.mu.Unlock()
		if up {
			return down, nil
		}
		select {
		case <-upCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
