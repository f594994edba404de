package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LoopbackUp brings lo up (the kernel gives it 127.0.0.1/8 then).
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// linkUp sets the interface administratively up.
func linkUp(iface string) (netlink.Link, error) {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("interface %s up: %w", iface, err)
	}
	return l, nil
}

// running is "has carrier and is up": the state in which DHCP can work.
func running(attrs *netlink.LinkAttrs) bool {
	return attrs.Flags&net.FlagUp != 0 && attrs.RawFlags&unix.IFF_RUNNING != 0
}

// apply puts l's address and default route on the link, replacing the
// previous lease's address (prev) when it differs.
func apply(link netlink.Link, l Lease, prev Lease) error {
	name := link.Attrs().Name
	addr := &netlink.Addr{IPNet: prefixToIPNet(l.Address)}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("%s: add address %s: %w", name, l.Address, err)
	}
	if prev.Address.IsValid() && prev.Address != l.Address {
		old := &netlink.Addr{IPNet: prefixToIPNet(prev.Address)}
		if err := netlink.AddrDel(link, old); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("%s: remove old address %s: %w", name, prev.Address, err)
		}
	}
	if !l.Gateway.IsValid() {
		return nil
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
		Gw:        net.IP(l.Gateway.AsSlice()),
	}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("%s: default route via %s: %w", name, l.Gateway, err)
	}
	return nil
}

// unapply removes a lease's address (and with it the routes through it).
func unapply(link netlink.Link, l Lease) error {
	if !l.Address.IsValid() {
		return nil
	}
	err := netlink.AddrDel(link, &netlink.Addr{IPNet: prefixToIPNet(l.Address)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("%s: remove address %s: %w", link.Attrs().Name, l.Address, err)
	}
	return nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
