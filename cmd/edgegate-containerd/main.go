// Command edgegate-containerd is one executable serving four roles, chosen
// by the name it is run under (the image links the other names to it):
//
//	containerd               the containerd daemon, with the plugins edgegate uses (plugins.go)
//	containerd-shim-runc-v2  the runc v2 shim containerd starts per container
//	edgegate-containerd      "serve": prepare and exec the daemon (the init service)
//	edgegate-ctr             the device's container control command
//
// One binary instead of four saves about 40 MB: the roles share the Go
// runtime, gRPC, the containerd client and most of containerd itself.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/cmd/containerd/command"
	"github.com/containerd/containerd/v2/pkg/shim"

	"github.com/edgegate/edgegate/init/containerd"
	"github.com/edgegate/edgegate/init/containerd/ctr"
)

func main() {
	ctx := context.Background()
	switch role(os.Args) {
	case "containerd":
		if err := command.App().Run(ctx, os.Args); err != nil {
			fmt.Fprintln(os.Stderr, "containerd:", err)
			os.Exit(1)
		}
	case "shim":
		runShim(ctx)
	case "edgegate-ctr":
		os.Exit(ctr.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
	default:
		os.Exit(containerd.ServeMain(os.Args[1:], os.Stderr))
	}
}

// role picks the role from argv. containerd starts a shim by the name
// containerd-shim-runc-v2, but the shim then re-executes itself through
// os.Executable, which resolves the link to this file: that second start
// is recognised by its first flag (-namespace NS -id ID -address ADDR).
func role(args []string) string {
	name := filepath.Base(args[0])
	switch {
	case name == "containerd":
		return "containerd"
	case name == "containerd-shim-runc-v2":
		return "shim"
	case name == "edgegate-ctr":
		return "edgegate-ctr"
	case len(args) > 1 && args[1] == "-namespace":
		return "shim"
	}
	return "serve"
}

// runShim runs the runc v2 shim. The daemon's plugins sit in the same
// global registry (imported above for the containerd role); the shim loads
// every registered plugin, so the registry is emptied and only the shim's
// task service is registered before it starts.
func runShim(ctx context.Context) {
	resetRegistryForShim()
	shim.RunShim(ctx, newShimManager())
}
