package watchdog

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type fakeTicker struct {
	c       chan time.Time
	stopped chan struct{}
}

func (f *fakeTicker) C() <-chan time.Time { return f.c }
func (f *fakeTicker) Stop()               { close(f.stopped) }

// fakeDevice is a regular file standing in for /dev/watchdog: every feed
// and the magic close land in it as bytes the test can count.
func fakeDevice(t *testing.T) (path string, f *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "watchdog")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, f
}

func TestRunFeedsAtHalfTimeoutUntilCancelled(t *testing.T) {
	path, f := fakeDevice(t)
	w := newWatchdog(f, 10*time.Second)
	ft := &fakeTicker{c: make(chan time.Time), stopped: make(chan struct{})}
	var interval time.Duration
	w.newTicker = func(d time.Duration) ticker { interval = d; return ft }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for i := 0; i < 3; i++ {
		ft.c <- time.Now() // unbuffered: returns once Run took the tick
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	select {
	case <-ft.stopped:
	default:
		t.Fatal("ticker not stopped")
	}
	if interval != 5*time.Second {
		t.Fatalf("interval = %v, want half the timeout", interval)
	}
	got, _ := os.ReadFile(path)
	if len(got) != 4 { // one feed at start, one per tick
		t.Fatalf("fed %d times, want 4", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if got[len(got)-1] != 'V' {
		t.Fatalf("last byte %q, want magic 'V'", got[len(got)-1])
	}
	for _, b := range got[:len(got)-1] {
		if b == 'V' {
			t.Fatal("a keepalive wrote 'V' and would disarm the watchdog")
		}
	}
}

func TestRunStopsOnWriteError(t *testing.T) {
	_, f := fakeDevice(t)
	w := newWatchdog(f, 4*time.Second)
	f.Close() // every write now fails
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("Run went on feeding a closed device")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "absent"), 10*time.Second); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing device: %v, want fs.ErrNotExist", err)
	}
	if _, err := Open("/dev/null", time.Second); err == nil {
		t.Fatal("accepted a 1s timeout")
	}
}

func TestOpenNonWatchdogKeepsRequestedTimeout(t *testing.T) {
	path, f := fakeDevice(t)
	f.Close()
	w, err := Open(path, 12*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Timeout() != 12*time.Second || w.Interval() != 6*time.Second {
		t.Fatalf("timeout %v interval %v", w.Timeout(), w.Interval())
	}
}
