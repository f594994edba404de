package boot

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/jointoken"
)

// bootMount is where the boot partition is mounted while init reads it.
const bootMount = "/run/edgegate/boot"

// handOverJoinToken moves the join token an image carries on its boot
// partition to /var, where edgecore reads it, and erases it from the boot
// partition (see init/jointoken). The partition is mounted only for that,
// root-only (umask=0077), and unmounted again, which writes it back.
func (s *System) handOverJoinToken() {
	dev := s.Info.Partition(1)
	if err := os.MkdirAll(bootMount, 0o700); err != nil {
		s.Console.Say("join token: %v", err)
		return
	}
	if err := unix.Mount(dev, bootMount, "vfat", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "umask=0077"); err != nil {
		s.Console.Say("join token: mounting the boot partition %s: %v", dev, err)
		return
	}
	out, err := jointoken.Handover(bootMount, jointoken.Path, s.dataOK)
	if err != nil {
		s.Console.Say("%v", err)
	}
	if out != jointoken.None {
		s.Console.Say("%s", out)
	}
	if err := unix.Unmount(bootMount, 0); err != nil {
		s.Console.Say("join token: unmounting the boot partition: %v", err)
	}
}
