package containerd

import (
	"time"

	"github.com/edgegate/edgegate/init/config"
)

// Paths of the runtime in the image (image/containerd.go puts them there).
const (
	ServeBinary = "/usr/bin/edgegate-containerd"
	CtrBinary   = "/usr/bin/edgegate-ctr"
)

// Service is containerd as the init supervises it: the serve role prepares
// and becomes the daemon (exec). Healthy means the daemon serves: its
// debug HTTP server answers, which containerd starts together with the
// gRPC socket once every plugin loaded. init asks it in-process, so the
// check costs no client process (a Go client takes about a second to start
// under QEMU's emulation, and would run every interval for the gateway's
// whole life) and can run often enough that containerd is seen healthy
// well under a second after it is.
func Service() config.Service {
	s := Default()
	return config.Service{
		Name: "containerd",
		Path: ServeBinary,
		// containerd finds the shim and the shim finds runc through PATH.
		Env: []string{"PATH=/usr/bin:/usr/sbin:/bin:/sbin"},
		Health: config.HealthCheck{
			Kind:    config.HealthHTTP,
			URL:     "http://containerd/debug/pprof/cmdline",
			Address: s.DebugSocket,
			// Often, for the boot: the first check runs at the start,
			// before the socket exists, the next one finds the daemon.
			Interval: config.Duration(500 * time.Millisecond),
			Timeout:  config.Duration(5 * time.Second),
			// A daemon busy unpacking an image may miss a few answers;
			// six misses in a row is a hung daemon.
			FailureThreshold: 6,
		},
		Restart:     config.RestartAlways,
		GracePeriod: config.Duration(15 * time.Second),
	}
}
