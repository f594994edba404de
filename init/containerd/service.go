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
// and becomes the daemon; healthy means the socket answers Version (a
// socket that only accepts is not enough). Under QEMU's emulation a Go
// client takes about a second to start, hence the timeout.
func Service() config.Service {
	return config.Service{
		Name: "containerd",
		Path: ServeBinary,
		// containerd finds the shim and the shim finds runc through PATH.
		Env: []string{"PATH=/usr/bin:/usr/sbin:/bin:/sbin"},
		Health: config.HealthCheck{
			Kind:             config.HealthExec,
			Command:          []string{CtrBinary, "health"},
			Interval:         config.Duration(5 * time.Second),
			Timeout:          config.Duration(8 * time.Second),
			FailureThreshold: 3,
		},
		Restart:     config.RestartAlways,
		GracePeriod: config.Duration(15 * time.Second),
	}
}
