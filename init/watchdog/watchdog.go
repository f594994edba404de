// Package watchdog feeds the Linux hardware watchdog (/dev/watchdog) so a
// hung PID 1 resets the board.
//
// How PID 1 uses it (after /dev is mounted, with cfg from init/config):
//
//	wd, err := watchdog.Open(cfg.Watchdog.Device, cfg.Watchdog.Timeout.D())
//	if errors.Is(err, fs.ErrNotExist) { /* no watchdog on this board: say so, go on */ }
//	go wd.Run(ctx)      // feeds every Timeout()/2 until ctx ends
//	...
//	// orderly shutdown, after services stopped and /var unmounted:
//	wd.Close()          // magic close: disarm, then reboot(2)
//
// Feeding from PID 1's own goroutine means the board resets only when the
// whole process stops being scheduled (deadlock of the runtime, kernel
// trouble), which is the failure this guards against. If PID 1 would
// rather stay guarded through the last shutdown steps, it cancels ctx and
// does not call Close: the board then resets by itself after the timeout
// if reboot(2) never happens.
package watchdog

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Watchdog is an open watchdog device.
type Watchdog struct {
	f       *os.File
	timeout time.Duration
	// newTicker is time.NewTicker, replaced in tests to drive the cadence.
	newTicker func(time.Duration) ticker
}

type ticker interface {
	C() <-chan time.Time
	Stop()
}

type realTicker struct{ *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.Ticker.C }

// Open opens the device, which arms the watchdog, and sets its timeout
// (whole seconds, at least 2). The driver may round the timeout; Timeout
// reports what it took. A missing device returns an error satisfying
// errors.Is(err, fs.ErrNotExist).
func Open(path string, timeout time.Duration) (*Watchdog, error) {
	secs := int(timeout / time.Second)
	if secs < 2 {
		return nil, fmt.Errorf("watchdog %s: timeout %v is below 2s", path, timeout)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	w := newWatchdog(f, timeout)
	fd := int(f.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, secs); err != nil {
		// Some drivers have a fixed timeout; keep feeding at its pace.
		klog.Warningf("watchdog %s: set timeout %ds: %v", path, secs, err)
	}
	if got, err := unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err == nil && got > 0 {
		w.timeout = time.Duration(got) * time.Second
	}
	return w, nil
}

func newWatchdog(f *os.File, timeout time.Duration) *Watchdog {
	return &Watchdog{
		f:         f,
		timeout:   timeout,
		newTicker: func(d time.Duration) ticker { return realTicker{time.NewTicker(d)} },
	}
}

// Timeout is the timeout the device runs with.
func (w *Watchdog) Timeout() time.Duration { return w.timeout }

// Interval is how often Run feeds the device: half the timeout, so one
// late tick never resets the board.
func (w *Watchdog) Interval() time.Duration { return w.timeout / 2 }

// Run feeds the device once at once and then every Interval until ctx
// ends; it returns ctx.Err(), or the write error that stopped feeding
// (the board will then reset: that is the point).
func (w *Watchdog) Run(ctx context.Context) error {
	if err := w.Feed(); err != nil {
		return err
	}
	t := w.newTicker(w.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			if err := w.Feed(); err != nil {
				return err
			}
		}
	}
}

// Feed pets the watchdog once. Any byte other than 'V' is a keepalive.
func (w *Watchdog) Feed() error {
	if _, err := w.f.Write([]byte{0}); err != nil {
		return fmt.Errorf("watchdog %s: feed: %w", w.f.Name(), err)
	}
	return nil
}

// Close writes the magic 'V' and closes the device, which disarms a
// watchdog that supports magic close. Call it only on an orderly shutdown.
func (w *Watchdog) Close() error {
	_, werr := w.f.Write([]byte("V"))
	cerr := w.f.Close()
	if werr != nil {
		return fmt.Errorf("watchdog %s: magic close: %w", w.f.Name(), werr)
	}
	if cerr != nil {
		return fmt.Errorf("watchdog %s: close: %w", w.f.Name(), cerr)
	}
	return nil
}
