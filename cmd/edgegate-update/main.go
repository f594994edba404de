// Command edgegate-update is the gateway's over-the-air update service
// (package init/update), supervised by init as service `update`: HTTPS
// with mutual TLS on --listen, taking signed bundles into the slot that is
// not running.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/update"
)

// Slot a is partition 2 of the boot disk, slot b partition 3.
var slotPartitions = map[slotstate.Slot]int{slotstate.A: 2, slotstate.B: 3}

type flags struct {
	listen, keys, clients, stateDir, buildInfo, disk, cmdline string
}

func main() {
	var f flags
	set := pflag.NewFlagSet("edgegate-update", pflag.ExitOnError)
	set.StringVar(&f.listen, "listen", fmt.Sprintf(":%d", update.DefaultPort), "address to listen on")
	set.StringVar(&f.keys, "keys", bundle.TrustedKeysPath, "public keys bundles must be signed with")
	set.StringVar(&f.clients, "clients", update.ClientsPath, "public keys of the operators allowed to connect")
	set.StringVar(&f.stateDir, "state-dir", update.DefaultStateDir, "directory for the TLS key pair, status.json and last.json")
	set.StringVar(&f.buildInfo, "build-info", buildinfo.Path, "the running slot's build record")
	set.StringVar(&f.disk, "disk", "", "boot disk holding the slots and the slot state (default: /dev/ + build.json's disk)")
	set.StringVar(&f.cmdline, "cmdline", "/proc/cmdline", "kernel command line naming the running slot (edgegate.slot=)")
	gofs := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(gofs)
	_ = gofs.Set("logtostderr", "true")
	set.AddGoFlagSet(gofs)
	_ = set.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f); err != nil {
		klog.Errorf("update: %v", err)
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

func run(ctx context.Context, f flags) error {
	info, err := buildinfo.Read(f.buildInfo)
	if err != nil {
		return err
	}
	clients, err := update.ReadClients(f.clients)
	if err != nil {
		return fmt.Errorf("%w: the service does not start without operator keys", err)
	}
	keys, err := bundle.ReadKeyRing(f.keys)
	if errors.Is(err, fs.ErrNotExist) {
		// The service still reports status; every bundle is refused.
		klog.Warningf("update: no signing keys (%v): every bundle is refused (unknown-key)", err)
	} else if err != nil {
		return err
	}
	cmdline, err := os.ReadFile(f.cmdline)
	if err != nil {
		return err
	}
	running, err := slotstate.Running(string(cmdline))
	if err != nil {
		return err
	}
	disk := f.disk
	if disk == "" {
		disk = "/dev/" + info.Disk
	}
	devices := map[slotstate.Slot]string{}
	for s, n := range slotPartitions {
		devices[s] = fmt.Sprintf("%s%s%d", disk, info.PartSep, n)
	}
	store, err := slotstate.Open(disk)
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := update.New(update.Config{
		Info: info, Running: running, Devices: devices, State: store,
		Keys: keys, Clients: clients, StateDir: f.stateDir,
		Reboot: func() error { return syscall.Kill(1, syscall.SIGTERM) },
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, l)
}
