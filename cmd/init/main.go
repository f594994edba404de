// Command init is PID 1 of an edgegate image.
package main

import (
	"context"
	"os"
	"time"

	"github.com/edgegate/edgegate/init/boot"
	"github.com/edgegate/edgegate/init/power"
	"github.com/edgegate/edgegate/init/rootfs"
)

func main() {
	execed := time.Now()
	con := boot.NewConsole(os.Stdout)
	if os.Getpid() != 1 {
		con.Say("init must run as PID 1 (this is PID %d)", os.Getpid())
		os.Exit(2)
	}
	sys, err := boot.Start(context.Background(), con, execed)
	if err != nil {
		// PID 1 must not exit: the kernel would panic. Report, give the
		// console time to drain, and reboot so a trial slot falls back.
		con.Say("boot failed: %v", err)
		if bad, _ := rootfs.Corrupted(); bad {
			// What failed read a block of the root that dm-verity refused.
			con.Say("root image of slot %s is corrupt: dm-verity refused a block that does not match the root hash; the slot is bad, rebooting",
				boot.ParseCmdline(cmdline()).Slot())
		}
		time.Sleep(5 * time.Second)
		_ = power.Halt(power.Reboot)
		select {}
	}
	if err := sys.Serve(); err != nil {
		con.Say("halt failed: %v", err)
	}
	select {}
}

func cmdline() string {
	b, _ := os.ReadFile("/proc/cmdline")
	return string(b)
}
