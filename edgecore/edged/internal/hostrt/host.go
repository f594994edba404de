package hostrt

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	client "github.com/containerd/containerd/v2/client"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/podnet"
	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
	initctrd "github.com/edgegate/edgegate/init/containerd"
)

// ImageRef is the test image in containerd's store: podapp
// (qemu/testdata/podapp) for this machine, as the only file of one layer,
// with podapp as its entrypoint.
const ImageRef = "edgegate.test/podapp:host"

// Host is the runtime the tests run against. Everything but containerd's
// root lives where a gateway has it, on the child's own /run.
type Host struct {
	Work   string // the work directory: binaries, containerd's root
	Bin    string // containerd, containerd-shim-runc-v2, runc
	CNIBin string // the CNI plugins
	// Daemon is the containerd layout, as init/containerd describes it.
	Daemon initctrd.Settings
}

// hostFor is the host of the work directory prepare laid out.
func hostFor(work string) Host {
	rt := hostctrd.Layout{Dir: work}
	d := initctrd.Default()
	d.Root = filepath.Join(work, "containerd")
	d.Binary = rt.Containerd()
	d.CNIBinDir = rt.CNIBin()
	return Host{Work: work, Bin: rt.Bin(), CNIBin: d.CNIBinDir, Daemon: d}
}

func (h Host) podapp() string { return filepath.Join(h.Work, "podapp") }

// Runtime is edged's containerd settings for this daemon.
func (h Host) Runtime() containerd.Settings {
	s := containerd.DefaultSettings()
	s.Endpoint = "unix://" + h.Daemon.Socket
	s.Root = h.Daemon.Root
	return s
}

// Network is edged's pod network: the gateway's, with the plugins here.
func (h Host) Network() podnet.Config {
	return podnet.Config{
		NetNSDir:    h.Daemon.NetNSDir,
		CNIConfDir:  h.Daemon.CNIConfDir,
		CNIBinDirs:  []string{h.CNIBin},
		CNICacheDir: "/run/edgegate/cni-cache",
		NetworkName: initctrd.NetworkName,
		Table:       "edgegate-hostports",
	}
}

// Client is a containerd client in the pods' namespace, closed when the
// test ends.
func (h Host) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := initctrd.Connect(h.Daemon.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// isolate makes the child's mounts private, gives it a /run of its own
// with the CNI network in it (the daemon's state and configuration go
// there too), and brings up its loopback.
func isolate(h Host) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=256m"); err != nil {
		return fmt.Errorf("mount a tmpfs on /run: %w", err)
	}
	d := h.Daemon
	for _, dir := range []string{d.CNIConfDir, d.NetNSDir} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return err
		}
	}
	list, err := initctrd.CNIConfList(d)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.CNIConfDir, initctrd.NetworkName+".conflist"), list, 0o644); err != nil {
		return fmt.Errorf("CNI config: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return nil
}
