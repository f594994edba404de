// Package ctr is edgegate-ctr, the device's container command: health,
// import, images, run (on the CNI bridge), kill-daemon, and jobs, which
// runs a list of these commands read from a tar stream on a block device
// (how QEMU tests drive the device without a shell or network login).
package ctr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/platforms"

	"github.com/edgegate/edgegate/init/containerd"
)

// Tool holds what every command needs.
type Tool struct {
	Settings containerd.Settings
	Out, Err io.Writer
}

// Main runs one command and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := Tool{Settings: containerd.Default(), Out: stdout, Err: stderr}
	if err := t.Run(ctx, args); err != nil {
		fmt.Fprintf(stderr, "edgegate-ctr: %v\n", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage: edgegate-ctr health | import FILE | images | run IMAGE [ARG...] | kill-daemon | wait-healthy SECONDS | jobs DEVICE")

// Run dispatches one command.
func (t Tool) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "health" && len(rest) == 0:
		return t.health(ctx)
	case cmd == "import" && len(rest) == 1:
		return t.importFile(ctx, rest[0])
	case cmd == "images" && len(rest) == 0:
		return t.images(ctx)
	case cmd == "run" && len(rest) >= 1:
		return t.run(ctx, rest[0], rest[1:])
	case cmd == "kill-daemon" && len(rest) == 0:
		return t.killDaemon()
	case cmd == "wait-healthy" && len(rest) == 1:
		return t.waitHealthy(ctx, rest[0])
	case cmd == "jobs" && len(rest) == 1:
		return t.jobs(ctx, rest[0])
	}
	return errUsage
}

func (t Tool) connect() (*client.Client, error) {
	return containerd.Connect(t.Settings.Socket, client.WithDefaultPlatform(platforms.Default()))
}

func (t Tool) health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := containerd.Version(ctx, t.Settings.Socket)
	if err != nil {
		return err
	}
	fmt.Fprintf(t.Out, "containerd %s healthy\n", v)
	return nil
}

// waitHealthy polls the daemon until it answers Version or time runs out.
func (t Tool) waitHealthy(ctx context.Context, secs string) error {
	d, err := time.ParseDuration(secs + "s")
	if err != nil {
		return fmt.Errorf("wait-healthy: %q is not a number of seconds", secs)
	}
	start := time.Now()
	deadline := start.Add(d)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		v, err := containerd.Version(cctx, t.Settings.Socket)
		cancel()
		if err == nil {
			fmt.Fprintf(t.Out, "containerd %s healthy after %.1fs\n", v, time.Since(start).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd not healthy after %s: %w", d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// importFile loads an OCI or Docker image archive and unpacks it for the
// device's platform. containerd's import names an image as soon as it has
// read the archive's index, even when a blob the manifest needs is missing
// or does not match its digest (the blob is then stored under the digest of
// what was read). So every imported image is checked for completeness and
// unpacked, and on any failure the names this import touched are put back
// as they were: a bad archive changes nothing.
//
// The whole import runs under a lease that also holds the content of every
// image named before it: while an import has repointed a name at what it
// read, the previous content is referenced by nothing else, and
// containerd's garbage collector (which an image update triggers) would
// delete it before restore could point the name back.
func (t Tool) importFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	c, err := t.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, done, err := c.WithLease(ctx, leases.WithRandomID(), leases.WithExpiration(time.Hour))
	if err != nil {
		return fmt.Errorf("import %s: lease: %w", path, err)
	}
	defer done(context.WithoutCancel(ctx))
	before, err := c.ImageService().List(ctx)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	if err := holdContent(ctx, c, before); err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	imgs, err := c.Import(ctx, f, client.WithImportPlatform(platforms.Default()))
	if err == nil && len(imgs) == 0 {
		err = errors.New("the archive names no image for this platform")
	}
	if err == nil {
		err = t.complete(ctx, c, imgs)
	}
	if err != nil {
		restore(context.WithoutCancel(ctx), c.ImageService(), before, imgs)
		return fmt.Errorf("import %s: %w", path, err)
	}
	for _, im := range imgs {
		fmt.Fprintf(t.Out, "imported %s %s\n", im.Name, im.Target.Digest)
	}
	return nil
}

// holdContent adds the root content of imgs to the context's lease; what
// they reference stays with them.
func holdContent(ctx context.Context, c *client.Client, imgs []images.Image) error {
	id, ok := leases.FromContext(ctx)
	if !ok {
		return errors.New("no lease in context")
	}
	for _, im := range imgs {
		res := leases.Resource{ID: im.Target.Digest.String(), Type: "content"}
		if err := c.LeasesService().AddResource(ctx, leases.Lease{ID: id}, res); err != nil {
			return fmt.Errorf("hold %s: %w", im.Name, err)
		}
	}
	return nil
}

// complete requires every blob of each image to be present, then unpacks it.
func (t Tool) complete(ctx context.Context, c *client.Client, imgs []images.Image) error {
	for _, im := range imgs {
		_, _, _, missing, err := images.Check(ctx, c.ContentStore(), im.Target, platforms.Default())
		if err != nil {
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
		if len(missing) > 0 {
			return fmt.Errorf("image %s: %s %s is missing from the archive or does not match its digest",
				im.Name, missing[0].MediaType, missing[0].Digest)
		}
		if err := client.NewImageWithPlatform(c, im, platforms.Default()).Unpack(ctx, "overlayfs"); err != nil {
			return fmt.Errorf("image %s: unpack: %w", im.Name, err)
		}
	}
	return nil
}

// restore puts back the image records a failed import created or replaced.
func restore(ctx context.Context, is images.Store, before, touched []images.Image) {
	prev := map[string]images.Image{}
	for _, im := range before {
		prev[im.Name] = im
	}
	for _, im := range touched {
		if old, ok := prev[im.Name]; ok {
			_, _ = is.Update(ctx, old, "target")
			continue
		}
		_ = is.Delete(ctx, im.Name)
	}
}

func (t Tool) images(ctx context.Context) error {
	c, err := t.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.ListImages(ctx)
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name() < list[j].Name() })
	for _, im := range list {
		fmt.Fprintf(t.Out, "image %s %s\n", im.Name(), im.Target().Digest)
	}
	fmt.Fprintf(t.Out, "%d images\n", len(list))
	return nil
}
