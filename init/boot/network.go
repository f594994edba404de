package boot

import (
	"context"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/clock"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/netconf"
)

const (
	resolvConf = "/etc/resolv.conf"
	// leaseWait bounds how long the boot waits for the first DHCP lease
	// before services start anyway; the lease is kept trying for after.
	leaseWait = 15 * time.Second
	// ntpTimeout bounds each server's answer during the boot's first sync.
	ntpTimeout = 2 * time.Second
)

func (s *System) setHostname() {
	if err := unix.Sethostname([]byte(s.Config.Hostname)); err != nil {
		s.Console.Say("hostname: %v", err)
		return
	}
	s.Console.Say("hostname %s", s.Config.Hostname)
}

// startNetwork brings up loopback and the uplink. With DHCP it waits for
// the first lease (at most leaseWait); the lease is then kept in the
// background, renewals and link changes reported on the console.
func (s *System) startNetwork(ctx context.Context) {
	if err := netconf.LoopbackUp(); err != nil {
		s.Console.Say("net: loopback: %v", err)
	}
	n := s.Config.Network
	dns := configuredDNS(n)
	s.timeLink(ctx, n.Interface)
	if n.Mode == config.ModeStatic {
		summary, err := netconf.ApplyStatic(n, resolvConf)
		if err != nil {
			s.Console.Say("net: %s static: %v", n.Interface, err)
			return
		}
		s.Console.Say("net: %s (static)", summary)
		s.allowResolvers(dns)
		return
	}
	bound := make(chan struct{})
	var once sync.Once
	endLease := s.timeline.Span("lease")
	d := &netconf.DHCP{
		Interface: n.Interface, ResolvConf: resolvConf, DNS: dns, Hostname: s.Config.Hostname,
		OnEvent: func(e netconf.Event) {
			s.Console.Say("%s", e)
			if e.Kind == netconf.EventBound || e.Kind == netconf.EventRenewed {
				s.allowResolvers(resolvers(dns, e.Lease))
			}
			if e.Kind == netconf.EventBound {
				endLease()
				once.Do(func() { close(bound) })
			}
		},
	}
	go func() {
		if err := d.Run(ctx); err != nil {
			s.Console.Say("net: %s dhcp stopped: %v", n.Interface, err)
		}
	}()
	select {
	case <-bound:
	case <-time.After(leaseWait):
		s.Console.Say("net: %s no lease after %v; starting services, still asking", n.Interface, leaseWait)
	}
}

// startClock moves the clock forward to the last saved time (or the
// image's build time) before anything reads it, on boards without an RTC.
func (s *System) startClock() {
	savePath := clock.DefaultSavePath
	if !s.dataOK {
		savePath = "" // a tmpfs /var: nothing to restore from or save to
	}
	k := &clock.Keeper{
		Servers:      s.Config.NTP.Servers,
		SavePath:     savePath,
		SaveInterval: s.Config.NTP.SaveInterval.D(),
		QueryTimeout: ntpTimeout,
		Floor:        buildTime(),
		Set:          clock.SetSystemClock,
	}
	r, err := k.Restore()
	if err != nil {
		s.Console.Say("%v", err)
	}
	s.Console.Say("%s", r)
	s.clock = k
}

// syncClock sets the time from NTP once the network is up, then keeps it
// right (and saved on /var, when /var persists) in the background: a
// failed sync is retried with backoff, also when /var is a tmpfs.
func (s *System) syncClock(ctx context.Context) {
	k := s.clock
	if len(k.Servers) == 0 {
		s.Console.Say("clock: no NTP servers configured; time %s", time.Now().UTC().Format(time.RFC3339))
	} else if r, err := k.Sync(ctx); err != nil {
		s.Console.Say("clock: %v; time %s; retrying from %s, backing off to %s", err, time.Now().UTC().Format(time.RFC3339),
			k.RetryDelay(1), k.RetryDelay(1000))
	} else {
		s.Console.Say("clock: set from ntp %s; time %s", r, time.Now().UTC().Format(time.RFC3339))
	}
	// Run saves the time once more when ctx ends; Stop waits for that
	// before it unmounts /var.
	s.clockDone = make(chan struct{})
	go func() {
		defer close(s.clockDone)
		if err := k.Run(ctx); err != nil {
			s.Console.Say("%v", err)
		}
	}()
}

// buildTime is when the image was made: the root image carries the
// build's fixed timestamp on every file, so its top directory's is it.
func buildTime() time.Time {
	st, err := os.Stat("/")
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
