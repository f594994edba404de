package hostrt

import (
	"context"
	"errors"
	"fmt"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

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
