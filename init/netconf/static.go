package netconf

import (
	"fmt"
	"net/netip"

	"github.com/edgegate/edgegate/init/config"
)

// StaticLease turns a validated static network config into a Lease.
func StaticLease(n config.Network) (Lease, error) {
	p, err := netip.ParsePrefix(n.Address)
	if err != nil {
		return Lease{}, fmt.Errorf("network.address: %w", err)
	}
	l := Lease{Address: p}
	if n.Gateway != "" {
		if l.Gateway, err = netip.ParseAddr(n.Gateway); err != nil {
			return Lease{}, fmt.Errorf("network.gateway: %w", err)
		}
	}
	if l.DNS, err = parseAddrs(n.DNS); err != nil {
		return Lease{}, err
	}
	return l, nil
}

func parseAddrs(ss []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for i, s := range ss {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("network.dns[%d]: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ApplyStatic configures the interface from a static config and writes
// resolv.conf; it returns the console summary.
func ApplyStatic(n config.Network, resolvConf string) (string, error) {
	l, err := StaticLease(n)
	if err != nil {
		return "", err
	}
	link, err := linkUp(n.Interface)
	if err != nil {
		return "", err
	}
	if err := apply(link, l, Lease{}); err != nil {
		return "", err
	}
	if err := WriteResolvConf(resolvConf, l.DNS, nil); err != nil {
		return "", err
	}
	return l.Summary(n.Interface), nil
}
