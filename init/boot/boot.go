// Package boot is the sequence PID 1 runs: kernel filesystems, modules,
// devices, the data partition, config, hostname, watchdog, network, clock
// and the supervised services, then the ready line; and an orderly stop
// when asked.
package boot

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/clock"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/kmod"
	"github.com/edgegate/edgegate/init/power"
	"github.com/edgegate/edgegate/init/supervise"
	"github.com/edgegate/edgegate/init/watchdog"
)

// deviceTimeout bounds the wait for disks and network interfaces to
// appear after their drivers load.
const deviceTimeout = 20 * time.Second

// stopTimeout bounds the whole service stop; each service's own grace
// period applies within it.
const stopTimeout = 90 * time.Second

// System is a booted gateway, as far as init has brought it.
type System struct {
	Console *Console
	Info    buildinfo.Info
	Slot    string
	Config  *config.Config

	// execed is when init started, for the time-to-services figure.
	execed   time.Time
	stops    <-chan power.Request
	reaper   *supervise.Reaper
	dataOK   bool
	grewPart bool // this boot grew the data partition (growpart.go)
	watchdog *watchdog.Watchdog
	clock    *clock.Keeper
	// clockDone is closed when the clock's last save is done.
	clockDone chan struct{}
	sup       *supervise.Supervisor
	// cancel ends the background work (network, clock, reaper, watchdog).
	cancel context.CancelFunc
	// degraded lists what runs without what it should have (see degrade).
	degraded []degraded
	// firewall is whether the packet filter is installed.
	firewall bool
	// timeline records the boot's steps (see timeline.go).
	timeline *bootTimeline
	// rootBad asks for the reboot when the root image turns out corrupt
	// (see root.go); serving says Serve takes such requests.
	rootBad chan power.Request
	serving atomic.Bool
}

// Start brings the system up to the ready line. Errors that leave the
// gateway unusable are returned; everything else is reported and the boot
// goes on, so the device stays reachable.
//
// Stop requests are watched from before the ready line: a power key
// pressed the moment the gateway says it is ready must not be lost.
func Start(ctx context.Context, con *Console, execed time.Time) (*System, error) {
	handover, fromInitramfs, handoverErr := initramfsHandover()
	tl := newBootTimeline(kernelHandoff(execed, handover, fromInitramfs))
	endInit := tl.Span("init")
	endMounts := tl.Span("mounts")
	if err := mountEarly(); err != nil {
		return nil, err
	}
	info, err := buildinfo.Read(buildinfo.Path)
	if err != nil {
		return nil, err
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	ctx, cancel := context.WithCancel(ctx)
	s := &System{Console: con, Info: info, Slot: ParseCmdline(string(cmdline)).Slot(), execed: execed, cancel: cancel,
		timeline: tl, rootBad: make(chan power.Request, 1)}
	con.Say("init version=%s board=%s slot=%s", info.Version, info.Board, s.Slot)
	if handoverErr != nil {
		con.Say("%v", handoverErr)
	}
	s.addInitramfsSteps(handover)
	s.reportCgroups()
	endMounts()

	// The reaper is the only wait4 in PID 1; everything init runs from
	// here on (mke2fs, e2fsck, services) goes through it.
	s.reaper = supervise.NewReaper(func(pid int, e supervise.Exit) {
		con.Say("reaped orphan pid %d (%s)", pid, e)
	})
	go s.reaper.Run(ctx)
	go s.watchRoot(ctx)

	endModules := s.timeline.Span("modules")
	if err := s.loadModules(); err != nil {
		cancel()
		return nil, err
	}
	endModules()
	s.step("devices", s.findDevices)
	s.stops = power.Watch(ctx)
	s.step("growpart", s.growPartition)
	s.step("data", func() { s.mountData(ctx) })
	s.step("growfs", s.growFilesystem)
	s.countBoot()
	s.step("jointoken", s.handOverJoinToken)
	s.step("config", s.chooseConfig)
	s.setHostname()
	s.startWatchdog(ctx)
	s.startClock()
	s.step("firewall", s.startFirewall)
	// The services need /var, the config and the packet filter, not the
	// network: they start while the uplink and the clock come up.
	s.startServices(ctx)
	s.checkSlot(ctx, string(cmdline))
	s.startNetwork(ctx)
	s.step("clock", func() { s.syncClock(ctx) })
	go s.reportRSS(ctx, rssReportAfter)
	go s.reportFirewall(ctx, firewallReportEvery)
	endInit()
	s.timeline.AllExpected()
	go s.finishTimeline(ctx)
	con.Say("%s", readyLine(info.Version, s.Slot, info.Board, s.degraded))
	for _, d := range s.degraded {
		con.Say("%s", d) // again, where the boot's last lines are read
	}
	return s, nil
}

func (s *System) loadModules() error {
	return kmod.LoadList(kmod.ListPath, s.Console.Say)
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

// chooseConfig picks the image's config, or the last good one when the
// image's is refused, and says which and why.
func (s *System) chooseConfig() {
	d := config.Choose(config.ImagePath, config.LastGoodPath)
	s.Console.Say("%s", d.Reason)
	if d.SaveNeeded && s.dataOK {
		if err := config.SaveLastGood(config.LastGoodPath, d.Raw); err != nil {
			s.Console.Say("config: %v", err)
		}
	}
	s.Config = d.Config
}

// startWatchdog arms the watchdog and feeds it from a goroutine of PID 1,
// so a PID 1 that stops being scheduled resets the board.
func (s *System) startWatchdog(ctx context.Context) {
	wc := s.Config.Watchdog
	if wc.Device == config.WatchdogDisabled {
		s.Console.Say("watchdog: disabled by config")
		return
	}
	wd, err := watchdog.Open(wc.Device, wc.Timeout.D())
	if errors.Is(err, fs.ErrNotExist) {
		s.Console.Say("watchdog: %s not present, not fed", wc.Device)
		return
	}
	if err != nil {
		s.Console.Say("watchdog: %v", err)
		return
	}
	s.watchdog = wd
	go func() {
		if err := wd.Run(ctx); err != nil && ctx.Err() == nil {
			s.Console.Say("watchdog: %v", err)
		}
	}()
	s.Console.Say("watchdog: %s fed every %v (timeout %v)", wc.Device, wd.Interval(), wd.Timeout())
}

// Serve waits for a stop request, then stops the system. It returns only
// if the final reboot(2) fails.
func (s *System) Serve() error {
	var req power.Request
	s.serving.Store(true)
	select {
	case req = <-s.stops:
	case req = <-s.rootBad:
	}
	s.Console.Say("%s requested by %s", req.Action, req.Cause)
	return s.Stop(req.Action)
}

// Stop stops the services in reverse dependency order, saves the clock,
// unmounts the data partition cleanly and halts.
func (s *System) Stop(a power.Action) error {
	if s.sup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		if err := s.sup.Stop(ctx); err != nil {
			s.Console.Say("services: %v", err)
		} else {
			s.Console.Say("services: all stopped")
		}
		cancel()
	}
	s.cancel()
	s.writeTimeline() // an unfinished boot's timeline is kept too
	if s.clockDone != nil {
		select {
		case <-s.clockDone:
		case <-time.After(5 * time.Second):
			s.Console.Say("clock: last save did not finish")
		}
	}
	if s.dataOK {
		s.unmountData()
	}
	if s.watchdog != nil {
		if err := s.watchdog.Close(); err != nil {
			s.Console.Say("%v", err)
		}
	}
	s.Console.Say("%s now", a)
	return power.Halt(a)
}
