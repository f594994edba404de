package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FieldError is one problem in the file, named by its field path
// (e.g. "services[1].dependsOn[0]") so the console line says what to fix.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// errs collects FieldErrors so Validate reports every problem at once.
type errs []error

func (e *errs) add(path, format string, args ...any) {
	*e = append(*e, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks every field and returns all problems joined (each a
// *FieldError, reachable through errors.As), or nil.
func (c *Config) Validate() error {
	var e errs
	validateHostname(&e, c.Hostname)
	validateNetwork(&e, &c.Network)
	validateNTP(&e, &c.NTP)
	validateServices(&e, c.Services)
	validateWatchdog(&e, &c.Watchdog)
	validateFirewall(&e, &c.Firewall)
	validateTrial(&e, &c.Trial)
	return errors.Join(e...)
}

var hostLabel = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !hostLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func validateHostname(e *errs, h string) {
	if !validHostname(h) {
		e.add("hostname", "%q is not a valid hostname (letters, digits, '-', dot-separated labels of at most 63)", h)
	}
}

func validateNetwork(e *errs, n *Network) {
	if n.Interface == "" || len(n.Interface) > 15 || strings.ContainsAny(n.Interface, "/ \t\n:") {
		e.add("network.interface", "%q is not a valid interface name", n.Interface)
	}
	switch n.Mode {
	case ModeDHCP:
		if n.Address != "" {
			e.add("network.address", "%q is set but mode is dhcp (address is only for mode static)", n.Address)
		}
		if n.Gateway != "" {
			e.add("network.gateway", "%q is set but mode is dhcp (gateway is only for mode static)", n.Gateway)
		}
	case ModeStatic:
		validateStatic(e, n)
	default:
		e.add("network.mode", "%q is not one of dhcp, static", n.Mode)
	}
	for i, d := range n.DNS {
		if a, err := netip.ParseAddr(d); err != nil || a.Zone() != "" {
			e.add(fmt.Sprintf("network.dns[%d]", i), "%q is not an IP address", d)
		}
	}
}

func validateStatic(e *errs, n *Network) {
	p, err := netip.ParsePrefix(n.Address)
	if err != nil || !p.Addr().Is4() || p.Bits() == 0 {
		e.add("network.address", "%q is not an IPv4 address with prefix length (e.g. 192.168.1.20/24)", n.Address)
		return
	}
	if n.Gateway == "" {
		return
	}
	g, err := netip.ParseAddr(n.Gateway)
	switch {
	case err != nil || !g.Is4():
		e.add("network.gateway", "%q is not an IPv4 address", n.Gateway)
	case !p.Masked().Contains(g):
		e.add("network.gateway", "%q is not inside %s", n.Gateway, p.Masked())
	case g == p.Addr():
		e.add("network.gateway", "%q is the device's own address", n.Gateway)
	}
}

func validateNTP(e *errs, n *NTP) {
	for i, s := range n.Servers {
		if err := checkHostPort(s); err != nil {
			e.add(fmt.Sprintf("ntp.servers[%d]", i), "%q: %v", s, err)
		}
	}
	if n.SaveInterval.D() < time.Minute || n.SaveInterval.D() > 24*time.Hour {
		e.add("ntp.saveInterval", "%s is outside 1m..24h (too often wears the card, too rarely loses time)", n.SaveInterval)
	}
}

// checkHostPort accepts "host" or "host:port" ("[v6]:port" for IPv6).
func checkHostPort(s string) error {
	host, port := s, ""
	if strings.Contains(s, ":") && (strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1) {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return err
		}
		host, port = h, p
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return fmt.Errorf("not a host name or address")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("bad port %q", port)
		}
	}
	return nil
}

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func validateServices(e *errs, svcs []Service) {
	seen := map[string]int{}
	for i, s := range svcs {
		p := fmt.Sprintf("services[%d]", i)
		if !serviceName.MatchString(s.Name) {
			e.add(p+".name", "%q is not a valid service name (lower-case letters, digits, '.', '_', '-'; it names the log file)", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			e.add(p+".name", "%q is already used by services[%d]", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		validateService(e, p, &s)
	}
	for i, s := range svcs {
		for j, d := range s.DependsOn {
			dp := fmt.Sprintf("services[%d].dependsOn[%d]", i, j)
			switch _, ok := seen[d]; {
			case d == s.Name:
				e.add(dp, "%q depends on itself", d)
			case !ok:
				e.add(dp, "unknown service %q", d)
			case indexOf(s.DependsOn[:j], d) >= 0:
				e.add(dp, "%q is listed twice", d)
			}
		}
	}
	if _, err := StartOrder(svcs); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			*e = append(*e, fe)
		}
	}
}

func validateService(e *errs, p string, s *Service) {
	if !filepath.IsAbs(s.Path) {
		e.add(p+".path", "%q is not an absolute path", s.Path)
	}
	keys := map[string]bool{}
	for i, kv := range s.Env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || k == "":
			e.add(fmt.Sprintf("%s.env[%d]", p, i), "%q is not KEY=value", kv)
		case keys[k]:
			e.add(fmt.Sprintf("%s.env[%d]", p, i), "%q sets %s twice", kv, k)
		}
		keys[k] = true
	}
	switch s.Restart {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		e.add(p+".restart", "%q is not one of always, on-failure, never", s.Restart)
	}
	if g := s.GracePeriod.D(); g <= 0 || g > 10*time.Minute {
		e.add(p+".gracePeriod", "%s is outside (0, 10m]", s.GracePeriod)
	}
	validateHealth(e, p+".health", &s.Health)
	validateLog(e, p+".log", &s.Log)
}

func validateHealth(e *errs, p string, h *HealthCheck) {
	switch h.Kind {
	case HealthNone:
	case HealthUnix:
		if !filepath.IsAbs(h.Address) {
			e.add(p+".address", "%q is not an absolute socket path (kind unix)", h.Address)
		}
	case HealthTCP:
		if _, port, err := net.SplitHostPort(h.Address); err != nil || port == "" {
			e.add(p+".address", "%q is not host:port (kind tcp)", h.Address)
		}
	case HealthExec:
		if len(h.Command) == 0 || !filepath.IsAbs(h.Command[0]) {
			e.add(p+".command", "%q must start with an absolute path (kind exec)", h.Command)
		}
	case HealthHTTP:
		if u, err := url.Parse(h.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			e.add(p+".url", "%q is not an http:// URL (kind http)", h.URL)
		}
		if h.Address != "" && !filepath.IsAbs(h.Address) {
			e.add(p+".address", "%q is not an absolute socket path (kind http through a unix socket)", h.Address)
		}
	default:
		e.add(p+".kind", "%q is not one of none, unix, tcp, exec, http", h.Kind)
	}
	unused := map[string]bool{
		"address": h.Address != "" && h.Kind != HealthUnix && h.Kind != HealthTCP && h.Kind != HealthHTTP,
		"command": len(h.Command) > 0 && h.Kind != HealthExec,
		"url":     h.URL != "" && h.Kind != HealthHTTP,
	}
	for _, f := range []string{"address", "command", "url"} {
		if unused[f] {
			e.add(p+"."+f, "is set but not used by kind %q", h.Kind)
		}
	}
	if h.Interval.D() <= 0 {
		e.add(p+".interval", "%s must be positive", h.Interval)
	}
	switch si := h.StartInterval.D(); {
	case si <= 0:
		e.add(p+".startInterval", "%s must be positive", h.StartInterval)
	case h.Interval.D() > 0 && si > h.Interval.D():
		e.add(p+".startInterval", "%s is longer than interval %s (it is for checking more often until the first success)", h.StartInterval, h.Interval)
	}
	if h.Timeout.D() <= 0 {
		e.add(p+".timeout", "%s must be positive", h.Timeout)
	}
	if h.FailureThreshold < 1 {
		e.add(p+".failureThreshold", "%d must be at least 1", h.FailureThreshold)
	}
	if h.StartTimeout.D() <= 0 {
		e.add(p+".startTimeout", "%s must be positive", h.StartTimeout)
	}
}

func validateLog(e *errs, p string, l *Log) {
	if l.MaxBytes < 4096 || l.MaxBytes > 1<<30 {
		e.add(p+".maxBytes", "%d is outside 4096..1GiB", l.MaxBytes)
	}
	if l.Keep < 1 || l.Keep > 20 {
		e.add(p+".keep", "%d is outside 1..20", l.Keep)
	}
	if l.RingBytes < 1024 || l.RingBytes > 16<<20 {
		e.add(p+".ringBytes", "%d is outside 1024..16MiB", l.RingBytes)
	}
}

func validateWatchdog(e *errs, w *Watchdog) {
	if w.Device != WatchdogDisabled && !filepath.IsAbs(w.Device) {
		e.add("watchdog.device", "%q is neither %q nor an absolute path", w.Device, WatchdogDisabled)
	}
	t := w.Timeout.D()
	if t < 2*time.Second || t > time.Hour || t%time.Second != 0 {
		e.add("watchdog.timeout", "%s must be whole seconds in 2s..1h", w.Timeout)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
