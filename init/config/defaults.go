package config

import "time"

// Defaults, applied by ApplyDefaults to fields left empty.
const (
	DefaultHostname         = "edgegate"
	DefaultInterface        = "eth0"
	DefaultSaveInterval     = 15 * time.Minute
	DefaultRestart          = RestartAlways
	DefaultGracePeriod      = 10 * time.Second
	DefaultHealthInterval   = 2 * time.Second
	DefaultStartInterval    = 500 * time.Millisecond // capped at the interval
	DefaultHealthTimeout    = 1 * time.Second
	DefaultFailureThreshold = 3
	DefaultStartTimeout     = 3 * time.Minute // generous: a first start on a slow card can take a minute or more
	DefaultLogMaxBytes      = 1 << 20
	DefaultLogKeep          = 2
	DefaultLogRingBytes     = 64 << 10
	DefaultWatchdogDevice   = "/dev/watchdog"
	DefaultWatchdogTimeout  = 30 * time.Second
)

// DefaultNTPServers are the time servers of a config that names none: the
// NTP pool (pool.ntp.org), four names so one bad answer or one unreachable
// server does not leave the gateway without time. A config disables NTP
// with an empty list (servers: []).
func DefaultNTPServers() []string {
	return []string{"0.pool.ntp.org", "1.pool.ntp.org", "2.pool.ntp.org", "3.pool.ntp.org"}
}

// Default is the config used when neither the image's file nor a last good
// copy is usable: DHCP on eth0 and no services, so the device at least comes
// up on the network and keeps its clock.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every empty field with its default. It is explicit
// (not hidden in decoding) so the host tool can show the effective config.
func (c *Config) ApplyDefaults() {
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.Network.Interface == "" {
		c.Network.Interface = DefaultInterface
	}
	if c.Network.Mode == "" {
		c.Network.Mode = ModeDHCP
	}
	if c.NTP.Servers == nil {
		c.NTP.Servers = DefaultNTPServers()
	}
	if c.NTP.SaveInterval == 0 {
		c.NTP.SaveInterval = Duration(DefaultSaveInterval)
	}
	for i := range c.Services {
		c.Services[i].applyDefaults()
	}
	if c.Watchdog.Device == "" {
		c.Watchdog.Device = DefaultWatchdogDevice
	}
	if c.Watchdog.Timeout == 0 {
		c.Watchdog.Timeout = Duration(DefaultWatchdogTimeout)
	}
	c.Firewall.applyDefaults()
	c.Trial.applyDefaults()
}

func (s *Service) applyDefaults() {
	if s.Restart == "" {
		s.Restart = DefaultRestart
	}
	if s.GracePeriod == 0 {
		s.GracePeriod = Duration(DefaultGracePeriod)
	}
	h := &s.Health
	if h.Kind == "" {
		h.Kind = HealthNone
	}
	if h.Interval == 0 {
		h.Interval = Duration(DefaultHealthInterval)
	}
	if h.StartInterval == 0 {
		h.StartInterval = Duration(DefaultStartInterval)
		if h.Interval > 0 && h.Interval < h.StartInterval {
			h.StartInterval = h.Interval
		}
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(DefaultHealthTimeout)
	}
	if h.FailureThreshold == 0 {
		h.FailureThreshold = DefaultFailureThreshold
	}
	if h.StartTimeout == 0 {
		h.StartTimeout = Duration(DefaultStartTimeout)
	}
	if s.Log.MaxBytes == 0 {
		s.Log.MaxBytes = DefaultLogMaxBytes
	}
	if s.Log.Keep == 0 {
		s.Log.Keep = DefaultLogKeep
	}
	if s.Log.RingBytes == 0 {
		s.Log.RingBytes = DefaultLogRingBytes
	}
}
