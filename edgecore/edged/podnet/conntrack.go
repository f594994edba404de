package podnet

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// clearUDP forgets the conntrack entries of UDP traffic to the host ports
// in ms, as the kubelet does when it publishes them: a client that kept
// sending before the pod was there has an entry without the DNAT, and UDP
// entries live as long as packets keep coming.
func clearUDP(ms []mapping) error {
	var filters []netlink.CustomConntrackFilter
	for _, m := range ms {
		if m.protocol != "UDP" {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return fmt.Errorf("conntrack filter for %s: %w", m, err)
		}
		if err := f.AddPort(netlink.ConntrackOrigDstPort, m.hostPort); err != nil {
			return fmt.Errorf("conntrack filter for %s: %w", m, err)
		}
		filters = append(filters, f)
	}
	if len(filters) == 0 {
		return nil
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...); err != nil {
		return fmt.Errorf("clear conntrack of UDP host ports: %w", err)
	}
	return nil
}
