package boot

import (
	"context"
	"net/netip"
	"time"

	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/firewall"
	"github.com/edgegate/edgegate/init/netconf"
)

// firewallReportEvery is how often init says what the firewall dropped,
// when that changed.
const firewallReportEvery = 10 * time.Minute

// The pods' bridge and network, as init/containerd's Default() has them:
// not imported from there, which would link containerd's client into
// PID 1 (TestPodNetworkIsContainerds keeps them equal).
const (
	podBridge = "edge0"
	podSubnet = "10.88.0.0/16"
)

// startFirewall installs the packet filter before the uplink comes up, so
// nothing reaches the gateway unfiltered. A gateway without it still boots
// (its cloud link and pods do not need it) but runs degraded, which the
// ready line and the node's conditions show.
func (s *System) startFirewall() {
	rules, err := firewall.FromConfig(s.Config.Firewall, podBridge, netip.MustParsePrefix(podSubnet))
	if err == nil {
		err = firewall.Install(rules)
	}
	if err != nil {
		s.degrade("firewall", "not installed, every port of the gateway is open: "+err.Error())
		return
	}
	s.firewall = true
	s.Console.Say("firewall: %s", rules)
}

// allowResolvers lets pods ask the gateway's current DNS servers when
// their egress is limited: the pods' resolv.conf is the gateway's.
func (s *System) allowResolvers(dns []netip.Addr) {
	if !s.firewall || len(s.Config.Firewall.Egress) == 0 {
		return
	}
	if err := firewall.SetResolvers(dns); err != nil {
		s.Console.Say("%v; pods may not resolve names", err)
	}
}

// configuredDNS is the network's configured DNS servers (validated).
func configuredDNS(n config.Network) []netip.Addr {
	var dns []netip.Addr
	for _, a := range n.DNS {
		if ip, err := netip.ParseAddr(a); err == nil {
			dns = append(dns, ip)
		}
	}
	return dns
}

// resolvers are the DNS servers a lease puts in resolv.conf: the
// configured ones when set, as netconf.DHCP writes them.
func resolvers(configured []netip.Addr, l netconf.Lease) []netip.Addr {
	if len(configured) > 0 {
		return configured
	}
	return l.DNS
}

// reportFirewall says what the firewall dropped since boot, at most every
// interval and only when it changed.
func (s *System) reportFirewall(ctx context.Context, every time.Duration) {
	if !s.firewall {
		return
	}
	var last firewall.Counts
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := firewall.Read()
		switch {
		case err != nil:
			s.Console.Say("%v", err)
		case n != last:
			s.Console.Say("firewall: dropped since boot: %s", n)
			last = n
		}
	}
}
