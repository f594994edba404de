package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/edgegate/edgegate/image/flash"
)

// runFlash writes an image to a card: edgegate flash --device DEV IMAGE.
func runFlash(ctx context.Context, args []string) error {
	fs := flagSet("flash")
	device := fs.String("device", "", "whole disk to write (an SD card or USB drive such as /dev/sdb or /dev/mmcblk0, a loop device) or a regular file (required)")
	force := fs.Bool("force", false, "allow a fixed (non-removable) disk; a mounted disk or the one holding the running system is refused regardless")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *device == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: edgegate flash --device DEV IMAGE (IMAGE raw or .gz/.xz/.zst)")
	}
	res, err := flash.Flash(ctx, flash.Options{
		Image: fs.Arg(0), Device: *device, Force: *force,
		Progress: phaseProgress(os.Stderr, isTerminal(os.Stderr), time.Now),
	})
	if err != nil {
		return err
	}
	mode := "O_DIRECT"
	if !res.Direct {
		mode = "through the page cache"
	}
	fmt.Printf("%s: wrote %.1f MiB (%.1f MiB of zeros already there, skipped) in %.1fs %s, read back in %.1fs\nsha256 %s verified\n",
		*device, mib(res.Written), mib(res.Skipped), res.WriteTime.Seconds(), mode, res.VerifyTime.Seconds(), res.SHA256)
	return nil
}

// phaseProgress is a progress callback drawing one bar per phase
// (reading a compressed image, writing, verifying), each with the time
// it has left.
func phaseProgress(w io.Writer, terminal bool, now func() time.Time) func(flash.Phase, int64, int64) {
	var bar *progressBar
	var phase flash.Phase
	return func(p flash.Phase, done, total int64) {
		if bar == nil || p != phase {
			phase, bar = p, newProgressBar(w, terminal, now)
			bar.label, bar.title, bar.timeLeft = string(p), fmt.Sprintf("%-13s ", p), true
		}
		bar.update(done, total)
	}
}
