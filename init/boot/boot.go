// Package boot is the sequence PID 1 runs: kernel filesystems, modules,
// devices, the data partition, then the ready line, and an orderly stop
// when asked.
package boot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/datapart"
	"github.com/edgegate/edgegate/init/kmod"
	"github.com/edgegate/edgegate/init/power"
	"golang.org/x/sys/unix"
)

// Paths on the device.
const (
	DataMount = "/var"
	bootCount = "/var/lib/edgegate/boot-count"
	mkfsPath  = "/sbin/mke2fs"
)

// deviceTimeout bounds the wait for disks and network interfaces to
// appear after their drivers load.
const deviceTimeout = 20 * time.Second

// System is a booted gateway, as far as init has brought it.
type System struct {
	Console *Console
	Info    buildinfo.Info
	Slot    string
	dataOK  bool
	stops   <-chan power.Request
}

// Start brings the system up to the ready line. Errors that leave the
// gateway unusable are returned; everything else is reported and the boot
// goes on, so the device stays reachable.
//
// Stop requests are watched from before the ready line: a power key
// pressed the moment the gateway says it is ready must not be lost.
func Start(ctx context.Context, con *Console) (*System, error) {
	if err := mountEarly(); err != nil {
		return nil, err
	}
	info, err := buildinfo.Read(buildinfo.Path)
	if err != nil {
		return nil, err
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	s := &System{Console: con, Info: info, Slot: ParseCmdline(string(cmdline)).Slot()}
	con.Say("init version=%s board=%s slot=%s", info.Version, info.Board, s.Slot)

	if err := s.loadModules(); err != nil {
		return nil, err
	}
	s.findDevices()
	s.stops = power.Watch(ctx)
	go reap(ctx)
	s.mountData()
	s.countBoot()
	con.Say("ready version=%s slot=%s board=%s", info.Version, s.Slot, info.Board)
	return s, nil
}

func (s *System) loadModules() error {
	data, err := os.ReadFile(kmod.ListPath)
	if err != nil {
		return fmt.Errorf("module list: %w", err)
	}
	entries, err := kmod.Parse(data)
	if err != nil {
		return err
	}
	rep, err := kmod.Load(entries)
	failed := rep.Failed()
	s.Console.Say("modules: %d loaded, %d failed in %v", len(rep.Results)-len(failed), len(failed), rep.Duration.Round(time.Millisecond))
	for _, f := range failed {
		s.Console.Say("module %s failed: %v", f.Name(), f.Err)
	}
	return err
}

// findDevices waits for the boot disk's partitions and the network
// interface and says what it found.
func (s *System) findDevices() {
	var parts []string
	for n := 1; n <= 4; n++ {
		parts = append(parts, s.Info.Partition(n))
	}
	if err := waitFor(parts, deviceTimeout); err != nil {
		s.Console.Say("disk: %v", err)
	}
	s.Console.Say("disk %s: %s", s.Info.Disk, strings.Join(listDir("/sys/class/block", s.Info.Disk+"*"), " "))
	if err := waitFor([]string{"/sys/class/net/" + s.Info.Net}, deviceTimeout); err != nil {
		s.Console.Say("net: %v", err)
	}
	s.Console.Say("net: %s", strings.Join(listDir("/sys/class/net", "*"), " "))
}

func (s *System) mountData() {
	dev := s.Info.Partition(4)
	res, err := datapart.Mount(datapart.Options{Device: dev, Target: DataMount, Label: "edgegate-data", Mkfs: mkfsPath})
	if err != nil {
		s.Console.Say("data: %v; /var is a tmpfs, nothing will persist", err)
		_ = unix.Mount("tmpfs", DataMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
		return
	}
	s.dataOK = true
	how := "existing filesystem"
	if res.Formatted {
		how = "formatted on first boot"
	}
	s.Console.Say("data: %s mounted on %s (%s)", dev, DataMount, how)
}

// countBoot increments a counter on the data partition: a cheap, visible
// proof that what one boot writes the next one reads.
func (s *System) countBoot() {
	n := 0
	if b, err := os.ReadFile(bootCount); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	if err := writeFileSync(bootCount, []byte(strconv.Itoa(n)+"\n")); err != nil {
		s.Console.Say("boot count: %v", err)
		return
	}
	s.Console.Say("boot count %d", n)
}

// writeFileSync replaces path atomically and durably: a power cut leaves
// either the old or the new contents.
func writeFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Serve waits for a stop request, then stops the system. It returns only
// if the final reboot(2) fails.
func (s *System) Serve() error {
	req := <-s.stops
	s.Console.Say("%s requested by %s", req.Action, req.Cause)
	return s.Stop(req.Action)
}

// Stop unmounts the data partition cleanly and halts.
func (s *System) Stop(a power.Action) error {
	if s.dataOK {
		if err := datapart.Unmount(DataMount); err != nil {
			s.Console.Say("data: %v", err)
		} else {
			s.Console.Say("data: unmounted cleanly")
		}
	}
	s.Console.Say("%s now", a)
	return power.Halt(a)
}

// reap collects exited children. As PID 1, init inherits every orphan;
// without this they would stay zombies for ever.
func reap(ctx context.Context) {
	sigs := make(chan os.Signal, 8)
	notifyChild(sigs)
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		}
	}
}
