package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/qemu"
)

func runQEMU(ctx context.Context, args []string) error {
	fs := flagSet("qemu")
	img := fs.String("image", "", "disk image to boot (required)")
	board := fs.String("board", "", "board the image was built for (default: read from the image)")
	path := fs.String("boot", "u-boot", "boot path: u-boot (the whole disk, as on hardware) or direct (-kernel/-initrd)")
	until := fs.String("until", "", "exit 0 once the console matches this regular expression")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --until: give up (exit 1) after this long")
	cache := fs.String("cache", defaultCache(), "directory for downloaded packages")
	reboot := fs.Bool("reboot", false, "let a guest reboot restart the machine instead of ending QEMU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *img == "" {
		return fmt.Errorf("no image: pass --image FILE.img")
	}
	bootPath, err := qemu.ParseBootPath(*path)
	if err != nil {
		return err
	}
	var re *regexp.Regexp
	if *until != "" {
		if re, err = regexp.Compile(*until); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	b, err := imageBoard(*img, *board)
	if err != nil {
		return err
	}
	cfg := qemu.Config{Board: b, Image: *img, Path: bootPath, Reboot: *reboot, Interactive: re == nil}
	if bootPath == qemu.UBoot {
		if cfg.Firmware, err = qemu.Firmware(ctx, newCache(*cache), b); err != nil {
			return err
		}
	}
	m, err := qemu.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer m.Close()
	if re == nil {
		return m.Wait(24 * 365 * time.Hour)
	}
	_, err = m.Console.Expect(re, *timeout)
	if err == nil {
		// Let the matched line finish before printing the console.
		_, _ = m.Console.Expect(regexp.MustCompile(`\n`), 2*time.Second)
	}
	fmt.Print(m.Console.String())
	if err != nil {
		return fmt.Errorf("console did not match %q within %v", *until, *timeout)
	}
	fmt.Fprintf(os.Stderr, "matched %q after %v\n", *until, time.Since(m.Started).Round(time.Millisecond))
	if err := m.Powerdown(); err == nil {
		m.Wait(30 * time.Second)
	}
	return nil
}

// imageBoard returns the named board, or the one recorded in the image.
func imageBoard(img, name string) (boards.Board, error) {
	if name != "" {
		return boards.Lookup(name)
	}
	info, err := readImageInfo(img)
	if err != nil {
		return boards.Board{}, fmt.Errorf("%w (pass --board)", err)
	}
	return boards.Lookup(info.Board)
}

func readImageInfo(img string) (buildinfo.Info, error) {
	return qemu.ImageInfo(img)
}
