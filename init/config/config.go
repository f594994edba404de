// Package config is the appliance's one typed configuration file: hostname,
// network, NTP, services, watchdog and firewall.
//
// Format: YAML, decoded strictly through sigs.k8s.io/yaml (YAML is turned
// into JSON and decoded with the JSON tags below, unknown fields and
// duplicate keys are errors). JSON is valid YAML, so a JSON file loads too.
// Durations are strings in Go syntax ("1s", "15m").
//
// How PID 1 uses it at boot:
//
//	d := config.Choose(config.ImagePath, config.LastGoodPath)
//	klog.Info(d.Reason)                  // one console line: which config and why
//	if d.Source == config.SourceNew {
//		_ = config.SaveLastGood(config.LastGoodPath, d.Raw)
//	}
//	cfg := d.Config                      // always non-nil and valid
//
// The host tool calls Load (or Parse) at build time so a broken file never
// reaches an image; the device checks again because an image can be older
// than the rules it is checked against.
package config

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// ImagePath is where the image carries the build-time config.
const ImagePath = "/etc/edgegate/config.yaml"

// LastGoodPath is where the device keeps a copy of the last config that
// passed validation, on the data partition.
const LastGoodPath = "/var/lib/edgegate/config.last-good.yaml"

// Config is the whole device configuration.
type Config struct {
	Hostname string    `json:"hostname,omitempty"`
	Network  Network   `json:"network"`
	NTP      NTP       `json:"ntp"`
	Services []Service `json:"services,omitempty"`
	Watchdog Watchdog  `json:"watchdog"`
	Firewall Firewall  `json:"firewall"`
	Trial    Trial     `json:"trial"`
}

// Network modes.
const (
	ModeDHCP   = "dhcp"
	ModeStatic = "static"
)

// Network is the one uplink interface.
type Network struct {
	Interface string `json:"interface,omitempty"`
	// Mode is "dhcp" or "static".
	Mode string `json:"mode,omitempty"`
	// Address is the static address in CIDR form, e.g. "192.168.1.20/24".
	Address string `json:"address,omitempty"`
	// Gateway is the static default gateway; empty means no default route.
	Gateway string `json:"gateway,omitempty"`
	// DNS servers; with DHCP they are used instead of the lease's when set.
	DNS []string `json:"dns,omitempty"`
}

// NTP names the time servers and how often the known-good time is saved.
type NTP struct {
	// Servers are "host" or "host:port". Left out, they are the NTP pool
	// (DefaultNTPServers); an empty list (servers: []) disables NTP (the
	// saved time is still restored and saved).
	Servers []string `json:"servers"`
	// SaveInterval is how often the current time is written to /var.
	SaveInterval Duration `json:"saveInterval,omitempty"`
}

// Restart policies.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// Service is one supervised process.
type Service struct {
	Name string `json:"name"`
	// Path is the absolute path of the executable.
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	// Env entries are "KEY=value"; the process gets only these.
	Env []string `json:"env,omitempty"`
	// DependsOn names services that must be healthy before this one starts.
	DependsOn []string    `json:"dependsOn,omitempty"`
	Health    HealthCheck `json:"health"`
	// Restart is "always", "on-failure" or "never".
	Restart string `json:"restart,omitempty"`
	// GracePeriod is the time between SIGTERM and SIGKILL on stop.
	GracePeriod Duration `json:"gracePeriod,omitempty"`
	Log         Log      `json:"log"`
}

// Health check kinds.
const (
	HealthNone = "none"
	HealthUnix = "unix"
	HealthTCP  = "tcp"
	HealthExec = "exec"
	HealthHTTP = "http"
)

// HealthCheck says how the supervisor knows a service is up.
type HealthCheck struct {
	// Kind is "none" (up once started), "unix" (connect to Address, a
	// socket path), "tcp" (connect to Address, host:port), "exec" (Command
	// exits 0) or "http" (GET URL answers 2xx; through the unix socket at
	// Address when it is set, e.g. a service's local status socket).
	Kind    string   `json:"kind,omitempty"`
	Address string   `json:"address,omitempty"`
	Command []string `json:"command,omitempty"`
	URL     string   `json:"url,omitempty"`
	// Interval between checks, Timeout of one check.
	Interval Duration `json:"interval,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
	// StartInterval is the interval between the checks of a run before
	// its first success (Docker's HEALTHCHECK --start-interval): short,
	// so a service that comes up fast is seen healthy at once and its
	// dependents start, while Interval keeps the steady checks cheap.
	StartInterval Duration `json:"startInterval,omitempty"`
	// FailureThreshold consecutive failures of a service that was healthy
	// make the supervisor restart it.
	FailureThreshold int `json:"failureThreshold,omitempty"`
	// StartTimeout is how long a started service may take to pass its
	// first check; past it, it is restarted with the restart backoff
	// rather than holding the services that depend on it back for ever.
	StartTimeout Duration `json:"startTimeout,omitempty"`
}

// Log bounds what a service's output may take.
type Log struct {
	// MaxBytes is the size at which /var/log/<name>.log is rotated.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// Keep is how many rotated files (<name>.log.1 …) are kept.
	Keep int `json:"keep,omitempty"`
	// RingBytes is the size of the in-memory copy of recent output.
	RingBytes int `json:"ringBytes,omitempty"`
}

// Watchdog is the hardware watchdog the PID 1 feeds.
type Watchdog struct {
	// Device is the watchdog device; "none" disables feeding. A device
	// that does not exist is skipped at boot (QEMU without one, say).
	Device  string   `json:"device,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// WatchdogDisabled is the Device value that turns the watchdog off.
const WatchdogDisabled = "none"

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	c, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes raw strictly, applies defaults and validates.
func Parse(raw []byte) (*Config, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	var c Config
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
