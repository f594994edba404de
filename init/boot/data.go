package boot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/atomicfile"
	"github.com/edgegate/edgegate/init/datapart"
)

// Paths on the device.
const (
	DataMount  = "/var"
	bootCount  = "/var/lib/edgegate/boot-count"
	mkfsPath   = "/sbin/mke2fs"
	fsckPath   = "/sbin/e2fsck"
	salvageDir = "/run/edgegate/salvage"
)

func (s *System) mountData(ctx context.Context) {
	dev := s.Info.Partition(4)
	res, err := datapart.Mount(datapart.Options{
		Device: dev, Target: DataMount, Label: "edgegate-data", Mkfs: mkfsPath, Fsck: fsckPath,
		Run: func(cmd *exec.Cmd) (int, error) {
			e, err := s.reaper.RunCommand(ctx, cmd)
			if e.Signal != 0 {
				return 128 + int(e.Signal), err
			}
			return e.Code, err
		},
		Say:        s.Console.Say,
		SalvageDir: salvageDir,
		SalvageMax: salvageLimit(),
	})
	if err != nil {
		s.Console.Say("data: %v; /var is a tmpfs, nothing will persist", err)
		_ = unix.Mount("tmpfs", DataMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755")
		return
	}
	s.dataOK = true
	if res.Check != "" {
		s.Console.Say("data: e2fsck: %s %s", dev, res.Check)
	}
	how := "existing filesystem"
	switch {
	case res.Recreated:
		how = "recreated, " + strconv.Itoa(res.Salvaged) + " files kept in lost+found"
	case res.Resumed:
		how = "formatted on first boot, after an interrupted format"
	case res.Formatted:
		how = "formatted on first boot"
	}
	s.Console.Say("data: %s mounted on %s (%s)", dev, DataMount, how)
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
	if err := unix.Mount("", DataMount, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		s.Console.Say("data: remount read-only: %v", err)
		return
	}
	unix.Sync()
	s.Console.Say("data: remounted read-only (clean)")
}

// countBoot increments a counter on the data partition: a cheap, visible
// proof that what one boot writes the next one reads.
func (s *System) countBoot() {
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
