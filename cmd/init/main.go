// Command init is PID 1 of an edgegate image.
package main

import (
	"context"
	"os"
	"time"

	"github.com/edgegate/edgegate/init/boot"
	"github.com/edgegate/edgegate/init/power"
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
		time.Sleep(5 * time.Second)
		_ = power.Halt(power.Reboot)
		select {}
	}
	if err := sys.Serve(); err != nil {
		con.Say("halt failed: %v", err)
	}
	select {}
}
