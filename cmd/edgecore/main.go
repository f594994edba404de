// Command edgecore is edgegate's KubeEdge-compatible edge agent. It reads an
// EdgeCore v1alpha2 configuration, opens the store, registers its modules
// on the bus and runs them until SIGINT, SIGTERM, SIGHUP or SIGQUIT.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// DefaultConfigPath is KubeEdge's location of edgecore.yaml.
const DefaultConfigPath = "/etc/kubeedge/config/edgecore.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	configPath    string
	bootstrapFile string
	inspectSocket string
	correctClock  bool
	defaultConfig bool
	minConfig     bool
	version       bool
}

// run is main with its inputs and outputs passed in; it returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("edgecore", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.configPath, "config", DefaultConfigPath, "path to the EdgeCore (edgecore.config.kubeedge.io/v1alpha2) configuration file")
	fs.StringVar(&o.bootstrapFile, "bootstrap-file", config.DefaultBootstrapFile, "file keadm join may leave the join token in; when present it overrides modules.edgeHub.token and is removed once the token is used")
	fs.StringVar(&o.inspectSocket, "inspect-socket", "", "serve GET /healthz (200 once every module runs), GET /edged (desired pods edged received, with counters) and GET /bus (bus drop counters) on this unix socket; off when empty")
	fs.BoolVar(&o.correctClock, "correct-clock", false, "set the system clock forward to the cloud's time when it is behind it (a gateway without a battery-backed clock whose NTP is unreachable); off, certificates are checked against the cloud's time and the clock is left alone")
	fs.BoolVar(&o.defaultConfig, "defaultconfig", false, "print the full default configuration and exit")
	fs.BoolVar(&o.minConfig, "minconfig", false, "print the minimal configuration and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	fs.AddGoFlagSet(klogFlags)
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgecore: unexpected arguments %q\n", fs.Args())
		return 2
	}
	switch {
	case o.version:
		fmt.Fprintf(stdout, "edgecore %s (KubeEdge v1alpha2 configuration, wire-compatible with cloudcore v1.21)\n", version)
		return 0
	case o.defaultConfig:
		return printConfig(stdout, stderr, config.NewDefault())
	case o.minConfig:
		return printConfig(stdout, stderr, config.NewMin())
	}
	defer klog.Flush()
	klog.Infof("edgecore version %s", version)
	applyMemoryLimit(os.Getenv)
	if err := serve(o); err != nil {
		klog.Errorf("edgecore: %v", err)
		return 1
	}
	klog.Info("edgecore stopped")
	return 0
}

func printConfig(stdout, stderr io.Writer, cfg *config.EdgeCoreConfig) int {
	out, err := config.Marshal(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "edgecore:", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}
