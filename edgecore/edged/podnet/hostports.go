package podnet

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// protocols are the Kubernetes port protocols by transport protocol number.
var protocols = map[string]uint8{"TCP": unix.IPPROTO_TCP, "UDP": unix.IPPROTO_UDP, "SCTP": unix.IPPROTO_SCTP}

// mapping is a validated host port mapping.
type mapping struct {
	protocol string
	hostIP   netip.Addr // not valid: every address of the node
	hostPort uint16
	port     uint16 // the container's
}

func (m mapping) String() string {
	if m.hostIP.IsValid() {
		return fmt.Sprintf("%s %s", m.protocol, netip.AddrPortFrom(m.hostIP, m.hostPort))
	}
	return fmt.Sprintf("%s %d", m.protocol, m.hostPort)
}

// overlaps is the kubelet scheduler's notion of a host port conflict: the
// same protocol and port on a common address (every address overlaps with
// each of them).
func (m mapping) overlaps(o mapping) bool {
	return m.protocol == o.protocol && m.hostPort == o.hostPort &&
		(!m.hostIP.IsValid() || !o.hostIP.IsValid() || m.hostIP == o.hostIP)
}

// parseMappings validates a pod's mappings and drops those that publish
// nothing (HostPort 0).
func parseMappings(podRef string, ports []PortMapping) ([]mapping, error) {
	var ms []mapping
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		m, err := parseMapping(p)
		if err != nil {
			return nil, fmt.Errorf("%s: host port %d: %w", podRef, p.HostPort, err)
		}
		for _, o := range ms {
			if m.overlaps(o) {
				return nil, fmt.Errorf("%s: host port %s is published twice", podRef, m)
			}
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func parseMapping(p PortMapping) (mapping, error) {
	m := mapping{protocol: p.Protocol}
	if m.protocol == "" {
		m.protocol = "TCP"
	}
	if _, ok := protocols[m.protocol]; !ok {
		return mapping{}, fmt.Errorf("protocol %q is not TCP, UDP or SCTP", p.Protocol)
	}
	if p.HostPort < 1 || p.HostPort > 65535 {
		return mapping{}, errors.New("out of range")
	}
	if p.ContainerPort < 1 || p.ContainerPort > 65535 {
		return mapping{}, fmt.Errorf("container port %d out of range", p.ContainerPort)
	}
	m.hostPort, m.port = uint16(p.HostPort), uint16(p.ContainerPort)
	if p.HostIP == "" {
		return m, nil
	}
	ip, err := netip.ParseAddr(p.HostIP)
	switch {
	case err != nil:
		return mapping{}, fmt.Errorf("host IP: %w", err)
	case !ip.Unmap().Is4():
		return mapping{}, fmt.Errorf("host IP %s: only IPv4 is published", ip)
	case ip.Unmap().IsLoopback():
		return mapping{}, fmt.Errorf("host IP %s: loopback is not published (it would need route_localnet)", ip)
	case !ip.Unmap().IsUnspecified():
		m.hostIP = ip.Unmap()
	}
	return m, nil
}

// published is one pod's share of the host port table.
type published struct {
	ref      string
	podIP    netip.Addr   // IPv4: the table is family ip
	subnet   netip.Prefix // podIP's network, for hairpin masquerade
	mappings []mapping
}

// newPublished publishes ms on the pod's first IPv4 address.
func newPublished(r record, ms []mapping) (published, error) {
	for _, a := range r.Addresses {
		if a.Addr().Is4() {
			return published{ref: r.ref(), podIP: a.Addr(), subnet: a.Masked(), mappings: ms}, nil
		}
	}
	return published{}, fmt.Errorf("%s: no IPv4 address to publish host ports on", r.ref())
}

// portTable is every pod's published ports, by UID.
type portTable map[string]published

// set makes the record's host ports the pod's share of the table and
// returns them.
func (t portTable) set(rec record) ([]mapping, error) {
	ms, err := parseMappings(rec.ref(), rec.Ports)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		delete(t, rec.UID)
		return nil, nil
	}
	pub, err := newPublished(rec, ms)
	if err != nil {
		return nil, err
	}
	t[rec.UID] = pub
	return ms, nil
}

// same reports whether the pod has the same share of t and o.
func (t portTable) same(o portTable, uid string) bool {
	a, inT := t[uid]
	b, inO := o[uid]
	return inT == inO && (!inT || a.equal(b))
}

func (p published) equal(o published) bool {
	return p.ref == o.ref && p.podIP == o.podIP && p.subnet == o.subnet && slices.Equal(p.mappings, o.mappings)
}

// conflict names the pod already publishing a port of ms; pod uid itself
// is not in the way (Setup repeats).
func (t portTable) conflict(uid, podRef string, ms []mapping) error {
	for _, other := range slices.Sorted(maps.Keys(t)) {
		if other == uid {
			continue
		}
		for _, m := range ms {
			for _, o := range t[other].mappings {
				if m.overlaps(o) {
					return fmt.Errorf("%s: host port %s is already published by %s (as %s)", podRef, m, t[other].ref, o)
				}
			}
		}
	}
	return nil
}

// dnat is one rule of the table.
type dnat struct {
	mapping
	podIP netip.Addr
	ref   string
}

// rules are the table's DNAT rules, in a stable order, and the pod
// networks that need hairpin masquerade.
func (t portTable) rules() ([]dnat, []netip.Prefix) {
	var (
		dnats   []dnat
		subnets []netip.Prefix
	)
	for _, uid := range slices.Sorted(maps.Keys(t)) {
		p := t[uid]
		for _, m := range p.mappings {
			dnats = append(dnats, dnat{mapping: m, podIP: p.podIP, ref: p.ref})
		}
		if len(p.mappings) > 0 && !slices.Contains(subnets, p.subnet) {
			subnets = append(subnets, p.subnet)
		}
	}
	slices.SortFunc(subnets, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return dnats, subnets
}
