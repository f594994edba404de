package kubeapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// childAttr has the kernel kill a child when the test binary dies without
// Stop (a panic, a timeout, go test's SIGQUIT), so no etcd or apiserver
// outlives it and holds its ports.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lockFile takes an exclusive lock on path, waiting while another process
// holds it, until ctx ends. go test runs packages in parallel: without it,
// two test binaries on a cold cache would each spend the build's minutes.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubeapi: build lock: %w", err)
	}
	for {
		// Polled rather than blocking, so that ctx can end the wait.
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("kubeapi: build lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("kubeapi: waiting for another build (%s): %w", path, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
