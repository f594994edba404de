package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/edgegate/edgegate/init/config"
)

// Port is a port of the gateway itself, open on every interface.
type Port struct {
	Protocol string // config.ProtocolTCP or config.ProtocolUDP
	Number   uint16
}

func (p Port) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Number) }

// Rules are what the filter lets through besides replies, DHCP, ICMP and
// published host ports.
type Rules struct {
	// Bridge is the pods' bridge: what the pods send the gateway is counted
	// apart, and Egress applies to what they send through it.
	Bridge string
	// PodSubnet is the pods' network, always within their reach.
	PodSubnet netip.Prefix
	// AllowInput are the gateway's open ports.
	AllowInput []Port
	// Egress, when not empty, are the only IPv4 networks pods may open
	// connections to (besides PodSubnet and DNS to the resolvers).
	Egress []netip.Prefix
	// Resolvers are the DNS servers pods may always ask when Egress is
	// set: the gateway's own, which the pods' resolv.conf names.
	Resolvers []netip.Addr
}

// FromConfig is the rules of a (validated) configuration for the pods'
// bridge and network.
func FromConfig(f config.Firewall, bridge string, podSubnet netip.Prefix) (Rules, error) {
	r := Rules{Bridge: bridge, PodSubnet: podSubnet}
	for i, p := range f.AllowInput {
		if _, ok := protocols[p.Protocol]; !ok || p.Port < 1 || p.Port > 65535 {
			return Rules{}, fmt.Errorf("firewall.allowInput[%d]: %s/%d is not a TCP or UDP port", i, p.Protocol, p.Port)
		}
		r.AllowInput = append(r.AllowInput, Port{Protocol: p.Protocol, Number: uint16(p.Port)})
	}
	for i, s := range f.Egress {
		p, err := config.ParseEgress(s)
		if err != nil {
			return Rules{}, fmt.Errorf("firewall.egress[%d]: %w", i, err)
		}
		r.Egress = append(r.Egress, p)
	}
	return r, nil
}

// egressNetworks are the destinations pods may reach when Egress is set:
// Egress and the pod network, without networks another one contains.
func (r Rules) egressNetworks() []netip.Prefix {
	all := append(slices.Clone(r.Egress), r.PodSubnet.Masked())
	slices.SortFunc(all, func(a, b netip.Prefix) int {
		if c := a.Bits() - b.Bits(); c != 0 {
			return c // wider first, so it is kept and what it contains dropped
		}
		return a.Addr().Compare(b.Addr())
	})
	var kept []netip.Prefix
	for _, p := range all {
		if !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Contains(p.Addr()) }) {
			kept = append(kept, p)
		}
	}
	return kept
}

// String is the console's one-line summary of what the filter lets in and
// out.
func (r Rules) String() string {
	in := "replies, DHCP, ICMP and published host ports"
	if len(r.AllowInput) > 0 {
		ports := make([]string, len(r.AllowInput))
		for i, p := range r.AllowInput {
			ports[i] = p.String()
		}
		in += ", " + strings.Join(ports, ", ")
	}
	out := "containers reach every network"
	if len(r.Egress) > 0 {
		nets := make([]string, len(r.Egress))
		for i, p := range r.Egress {
			nets[i] = p.String()
		}
		out = "containers reach " + strings.Join(nets, ", ") + " and DNS only"
	}
	return "input open to " + in + "; " + out
}
