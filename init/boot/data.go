package boot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/atomicfile"
	"github.com/edgegate/edgegate/init/datapart"
)

// Paths on the device.
const (
	DataMount = "/var"
	bootCount = "/var/lib/edgegate/boot-count"
	mkfsPath  = "/sbin/mke2fs"
	fsckPath  = "/sbin/e2fsck"
	// fsckLog keeps every e2fsck run's output of this boot, in RAM, so
	// why /var was repaired, recreated or left out can be read later.
	fsckLog  = "/run/edgegate/data/e2fsck.log"
	stageDir = "/run/edgegate/data/stage"
)

func (s *System) mountData(ctx context.Context) {
	dev := s.Info.Partition(4)
	res, err := datapart.Mount(datapart.Options{
		Device: dev, Target: DataMount, Label: "edgegate-data", Mkfs: mkfsPath, Fsck: fsckPath,
		Run: func(runCtx context.Context, cmd *exec.Cmd) (datapart.Exit, error) {
			e, err := s.reaper.RunCommand(runCtx, cmd)
			return datapart.Exit{Code: e.Code, Signal: e.Signal}, err
		},
		Say:        s.Console.Say,
		FsckLog:    fsckLog,
		StageDir:   stageDir,
		SalvageMax: salvageLimit(),
	})
	if err != nil {
		s.dataInRAM(err)
		return
	}
	s.dataOK = true
	if res.Check != "" {
		s.Console.Say("data: e2fsck: %s %s", dev, res.Check)
	}
	s.Console.Say("data: %s mounted on %s (%s)", dev, DataMount, mountedHow(res))
}

// mountedHow says what became of the filesystem, for the mount line.
func mountedHow(res datapart.Result) string {
	how := "existing filesystem"
	switch {
	case res.Recreated && res.Kept != "":
		how = fmt.Sprintf("recreated; e2fsck's report and %d salvaged files in %s", res.Salvaged, path.Join(DataMount, res.Kept))
	case res.Recreated:
		how = "recreated; nothing could be kept"
	case res.Resumed:
		how = "formatted on first boot, after an interrupted format"
	case res.Formatted:
		how = "formatted on first boot"
	}
	if res.Attempts > 1 {
		how += fmt.Sprintf(", on attempt %d", res.Attempts)
	}
	return how
}

// dataInRAM runs the gateway with /var on a tmpfs, the data partition
// untouched, and says so wherever an operator looks: a fault that may
// pass (a card that reads again after a power cycle) must not cost the
// node its certificates, its store and its images.
func (s *System) dataInRAM(err error) {
	reason := fmt.Sprintf("%v; /var is a tmpfs, nothing written to it survives a reboot; e2fsck's output is in %s", err, fsckLog)
	if merr := unix.Mount("tmpfs", DataMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); merr != nil {
		reason += fmt.Sprintf("; mounting the tmpfs failed too: %v", merr)
	}
	s.degrade("var", reason)
}

// salvageLimit is how much of an unrepairable filesystem may be copied
// into RAM before it is recreated: a quarter of the available memory.
func salvageLimit() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024 / 4
		}
	}
	return 0
}

// unmountData leaves the filesystem clean for the next boot; if something
// still holds it, it is remounted read-only, which is as clean.
func (s *System) unmountData() {
	err := datapart.Unmount(DataMount)
	if err == nil {
		s.Console.Say("data: unmounted cleanly")
		return
	}
	s.Console.Say("data: %v", err)
	// A remount sets every per-mount flag: keep datapart's nosuid, nodev
	// and noatime.
	ro := uintptr(unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOATIME)
	if err := unix.Mount("", DataMount, "", ro, ""); err != nil {
		s.Console.Say("data: remount read-only: %v", err)
		return
	}
	unix.Sync()
	s.Console.Say("data: remounted read-only (clean)")
}

// countBoot increments a counter on the data partition: a cheap, visible
// proof that what one boot writes the next one reads.
func (s *System) countBoot() {
	if !s.dataOK {
		s.Console.Say("boot count: not kept, /var is not the data partition")
		return
	}
	n := 0
	if b, err := os.ReadFile(bootCount); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	if err := os.MkdirAll(filepath.Dir(bootCount), 0o755); err != nil {
		s.Console.Say("boot count: %v", err)
		return
	}
	if err := atomicfile.WriteFile(bootCount, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		s.Console.Say("boot count: %v", err)
		return
	}
	s.Console.Say("boot count %d", n)
}
