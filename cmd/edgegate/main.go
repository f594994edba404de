// Command edgegate is the host tool: it builds a board's image and boots
// it under QEMU.
//
//	edgegate boards
//	edgegate build --board qemu-arm64 -o edgegate.img
//	edgegate qemu --image edgegate.img [--board NAME] [--until REGEX --timeout 2m]
//	edgegate flash --device /dev/sdX edgegate.img
//	edgegate ota keygen -o NAME
//	edgegate ota bundle --board qemu-arm64 --key NAME.key --image edgegate.img -o update.bundle
//	edgegate ota push --target HOST --key NAME.key update.bundle
//	edgegate ota pull --target HOST --key NAME.key URL
//	edgegate ota status --target HOST --key NAME.key
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/image/debpkg"
)

// version is set at link time by the Makefile.
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"boards", "list the boards edgegate can build for", runBoards},
		{"build", "build a board's disk image", runBuild},
		{"qemu", "boot an image under QEMU", runQEMU},
		{"ota", "over-the-air updates: keygen, bundle, push, pull, status", runOTA},
		{"flash", "write an image to an SD card, USB drive or file, and verify it", runFlash},
		{"version", "print the version", func(context.Context, []string) error {
			fmt.Println("edgegate", version)
			return nil
		}},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: edgegate COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'edgegate COMMAND --help' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name == os.Args[1] {
			if err := c.run(ctx, os.Args[2:]); err != nil {
				klog.Flush()
				fmt.Fprintf(os.Stderr, "edgegate %s: %v\n", c.name, err)
				os.Exit(1)
			}
			klog.Flush()
			return
		}
	}
	fmt.Fprintf(os.Stderr, "edgegate: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// flagSet returns a pflag set for a subcommand with klog's flags added.
func flagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("edgegate "+name, pflag.ContinueOnError)
	gofs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(gofs)
	_ = gofs.Set("logtostderr", "true")
	fs.AddGoFlagSet(gofs)
	return fs
}

// defaultCache is where packages are kept between builds.
func defaultCache() string { return debpkg.DefaultDir() }

func newCache(dir string) *debpkg.Cache {
	return &debpkg.Cache{Dir: dir, Fetch: debpkg.Apt{}}
}
