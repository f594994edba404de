// Package clock keeps the system time right on a board without a
// battery-backed RTC: it restores the last known good time saved on /var
// (so time never goes back to 1970), sets the time from NTP, and saves it
// again periodically and at shutdown.
//
// How PID 1 uses it (cfg from init/config; after /var is mounted):
//
//	c := &clock.Keeper{
//		Servers:      cfg.NTP.Servers,
//		SavePath:     clock.DefaultSavePath,
//		SaveInterval: cfg.NTP.SaveInterval.D(),
//		Floor:        buildTime,              // optional: the image's build time
//		Set:          clock.SetSystemClock,
//	}
//	r, err := c.Restore()                     // before anything looks at the time
//	fmt.Println(r)                            // "clock restored to … from /var/…"
//	res, err := c.Sync(ctx)                   // after the network is up: "clock set from 10.0.2.2 …"
//	go c.Run(ctx)                             // retry a failed sync from 5 s backing off to 5 min,
//	                                          // re-sync hourly once synced, save every SaveInterval
//	…                                         // shutdown, before unmounting /var:
//	c.Save()
package clock

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSavePath is where the last good time lives on the data partition.
const DefaultSavePath = "/var/lib/edgegate/clock"

// Setter sets the system clock.
type Setter func(time.Time) error

// SetSystemClock sets CLOCK_REALTIME (needs CAP_SYS_TIME; PID 1 has it).
func SetSystemClock(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock: set system time to %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return nil
}
