package hostrt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

// Own is a runtime for one test: a daemon of its own, with its root,
// state and sockets in dir, and the binaries and pod network of h. The
// test may stop and start it (StartDaemon, Daemon.Interrupt) without
// disturbing the daemon the other tests share.
func (h Host) Own(dir string) Host {
	d := h.Daemon
	d.Root, d.State = filepath.Join(dir, "root"), filepath.Join(dir, "state")
	d.Socket, d.DebugSocket = filepath.Join(dir, "c.sock"), filepath.Join(dir, "d.sock")
	h.Daemon = d
	return h
}

// StartDaemon starts h's daemon (again, after an Interrupt, on the same
// root and state) and puts the test image in its store.
func (h Host) StartDaemon() (*hostctrd.Daemon, error) {
	d, err := hostctrd.Start(h.Daemon, hostctrd.Options{})
	if err != nil {
		return nil, err
	}
	if err := importImage(h); err != nil {
		return nil, errors.Join(err, d.Stop())
	}
	return d, nil
}

// RemoveAndStop removes every container of the daemon, then stops it.
func RemoveAndStop(d *hostctrd.Daemon) error { return stopDaemon(d) }

// stopDaemon removes every container left in every namespace (their
// shims would keep the namespaces of the child alive), then stops the
// daemon.
func stopDaemon(d *hostctrd.Daemon) error {
	return errors.Join(removeContainers(d.Settings.Socket), d.Stop())
}

func removeContainers(socket string) error {
	c, err := client.New(socket)
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nss, err := c.NamespaceService().List(ctx)
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	var errs []error
	for _, ns := range nss {
		ctx := namespaces.WithNamespace(ctx, ns)
		ctns, err := c.Containers(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ctn := range ctns {
			if task, err := ctn.Task(ctx, nil); err == nil {
				if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("cleanup: task %s: %w", ctn.ID(), err))
				}
			}
			if err := ctn.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("cleanup: container %s: %w", ctn.ID(), err))
			}
		}
	}
	return errors.Join(errs...)
}
