package timeline

import (
	"time"

	"golang.org/x/sys/unix"
)

// SinceKernelStart reads CLOCK_BOOTTIME: the time since the kernel
// started, suspend included, on the clock the kernel's own log uses. It
// is what the wall clock is not at boot: right before NTP answered.
func SinceKernelStart() time.Duration {
	var ts unix.Timespec
	// CLOCK_BOOTTIME exists on every kernel edgegate runs (2.6.39 on).
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}
