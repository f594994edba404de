package config

import (
	"fmt"
	"net/netip"
)

// Firewall is what reaches the gateway itself besides replies, DHCP, ICMP
// and the pods' published host ports, and where containers may connect.
type Firewall struct {
	// AllowInput are ports of the gateway's own services (a device API,
	// say) left open on every interface. Services listening on other
	// ports, hostNetwork pods included, are reachable from the gateway
	// itself only.
	AllowInput []InputPort `json:"allowInput,omitempty"`
	// Egress, when set, lists the only networks (IPv4 CIDRs) containers
	// may open connections to, besides DNS to the gateway's resolvers and
	// the pod network itself. Empty means everywhere, as in Kubernetes.
	Egress []string `json:"egress,omitempty"`
}

// Transport protocols of an InputPort.
const (
	ProtocolTCP = "tcp"
	ProtocolUDP = "udp"
)

// InputPort is one open port of the gateway.
type InputPort struct {
	Port int `json:"port"`
	// Protocol is "tcp" (the default) or "udp".
	Protocol string `json:"protocol,omitempty"`
}

func (f *Firewall) applyDefaults() {
	for i := range f.AllowInput {
		if f.AllowInput[i].Protocol == "" {
			f.AllowInput[i].Protocol = ProtocolTCP
		}
	}
}

func validateFirewall(e *errs, f *Firewall) {
	seen := map[InputPort]int{}
	for i, p := range f.AllowInput {
		path := fmt.Sprintf("firewall.allowInput[%d]", i)
		if p.Protocol != ProtocolTCP && p.Protocol != ProtocolUDP {
			e.add(path+".protocol", "%q is not one of tcp, udp", p.Protocol)
		}
		if p.Port < 1 || p.Port > 65535 {
			e.add(path+".port", "%d is outside 1..65535", p.Port)
		}
		if j, dup := seen[p]; dup {
			e.add(path, "%s/%d is already listed by firewall.allowInput[%d]", p.Protocol, p.Port, j)
		} else {
			seen[p] = i
		}
	}
	for i, s := range f.Egress {
		if _, err := ParseEgress(s); err != nil {
			e.add(fmt.Sprintf("firewall.egress[%d]", i), "%v", err)
		}
	}
}

// ParseEgress reads one firewall.egress entry: an IPv4 network in CIDR
// form without host bits (containers have IPv4 addresses only).
func ParseEgress(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q is not a network in CIDR form (e.g. 192.168.1.0/24, or /32 for one address)", s)
	case !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4 (containers have IPv4 addresses only)", s)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (the network is %s)", s, p.Masked())
	}
	return p, nil
}
