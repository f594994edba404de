package ctr

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	client "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/edgegate/edgegate/init/containerd"
)

// run starts one container of image on the bridge network, copies its
// output to t.Out, waits for it to exit and removes it again. It reports
// how long creation took until the first output byte arrived.
func (t Tool) run(ctx context.Context, ref string, args []string) (err error) {
	c, err := t.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	img, err := c.GetImage(ctx, ref)
	if err != nil {
		return fmt.Errorf("run: image %s: %w", ref, err)
	}
	id := fmt.Sprintf("run-%d", time.Now().UnixNano())
	specOpts := []oci.SpecOpts{oci.WithImageConfig(img), oci.WithHostname(id[:12]), seccomp.WithDefaultProfile()}
	if len(args) > 0 {
		specOpts = append(specOpts, oci.WithProcessArgs(append(imageEntrypoint(ctx, img), args...)...))
	}
	start := time.Now()
	ctn, err := c.NewContainer(ctx, id,
		client.WithImage(img), client.WithSnapshotter("overlayfs"), client.WithNewSnapshot(id, img),
		client.WithRuntime("io.containerd.runc.v2", nil), client.WithNewSpec(specOpts...))
	if err != nil {
		return fmt.Errorf("run: create container: %w", err)
	}
	defer func() {
		if derr := ctn.Delete(context.WithoutCancel(ctx), client.WithSnapshotCleanup); derr != nil && err == nil {
			err = fmt.Errorf("run: delete container: %w", derr)
		}
	}()
	first := &firstWrite{w: t.Out}
	task, err := ctn.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, first, first)))
	if err != nil {
		return fmt.Errorf("run: create task: %w", err)
	}
	defer task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	netDone, err := t.attach(ctx, id, task.Pid())
	if err != nil {
		return err
	}
	defer netDone()
	exit, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("run: wait: %w", err)
	}
	if err := task.Start(ctx); err != nil {
		return fmt.Errorf("run: start: %w", err)
	}
	st := <-exit
	code, _, err := st.Result()
	if err != nil {
		return fmt.Errorf("run: exit status: %w", err)
	}
	// Delete closes the task's output: everything it wrote is copied then.
	if _, err := task.Delete(ctx); err != nil {
		return fmt.Errorf("run: delete task: %w", err)
	}
	if at := first.at(); !at.IsZero() {
		fmt.Fprintf(t.Out, "container %s first output after %d ms\n", id, at.Sub(start).Milliseconds())
	}
	fmt.Fprintf(t.Out, "container %s exited %d\n", id, code)
	if code != 0 {
		return fmt.Errorf("run: container exited with status %d", code)
	}
	return nil
}

// imageEntrypoint is the image's entrypoint, which arguments are appended to.
func imageEntrypoint(ctx context.Context, img client.Image) []string {
	spec, err := img.Spec(ctx)
	if err != nil {
		return nil
	}
	return spec.Config.Entrypoint
}

// attach puts the task's network namespace on the CNI bridge. The
// namespace is named by the task's pid: runc made it, and it lives as long
// as the task, so nothing has to be bind-mounted or cleaned up by hand.
func (t Tool) attach(ctx context.Context, id string, pid uint32) (func(), error) {
	s := t.Settings
	list, err := libcni.ConfListFromFile(filepath.Join(s.CNIConfDir, containerd.NetworkName+".conflist"))
	if err != nil {
		return nil, fmt.Errorf("run: network config: %w", err)
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{s.CNIBinDir}, filepath.Join(s.State, "cni-cache"), nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: fmt.Sprintf("/proc/%d/ns/net", pid), IfName: "eth0"}
	res, err := cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		return nil, fmt.Errorf("run: network %s: %w", list.Name, err)
	}
	if r, err := current.NewResultFromResult(res); err == nil {
		for _, ip := range r.IPs {
			fmt.Fprintf(t.Out, "container %s address %s gateway %s\n", id, ip.Address.String(), ip.Gateway)
		}
	}
	return func() {
		if err := cni.DelNetworkList(context.WithoutCancel(ctx), list, rt); err != nil {
			fmt.Fprintf(t.Err, "edgegate-ctr: release network of %s: %v\n", id, err)
		}
	}, nil
}

// firstWrite passes output through and notes when the first byte came.
type firstWrite struct {
	mu    sync.Mutex
	w     io.Writer
	first time.Time
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.first.IsZero() && len(p) > 0 {
		f.first = time.Now()
	}
	return f.w.Write(p)
}

func (f *firstWrite) at() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
