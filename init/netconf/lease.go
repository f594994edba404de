package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Lease is an interface configuration: from a DHCP ACK or from the static
// config (then Duration is zero: it never expires).
type Lease struct {
	Address netip.Prefix
	Gateway netip.Addr // invalid when there is no default route
	DNS     []netip.Addr
	Search  []string
	Server  netip.Addr // the DHCP server; invalid for static
	// Duration, T1 (renew) and T2 (rebind) as the server gave them; zero
	// Duration means infinite.
	Duration time.Duration
	T1, T2   time.Duration
	Obtained time.Time
}

// infiniteLease is the RFC 2132 value 0xffffffff seconds.
const infiniteLease = time.Duration(0xffffffff) * time.Second

// LeaseFromACK translates a DHCPACK into a Lease.
func LeaseFromACK(ack *dhcpv4.DHCPv4, obtained time.Time) (Lease, error) {
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		return Lease{}, errors.New("dhcp: not an ACK")
	}
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsValid() || ip.IsUnspecified() {
		return Lease{}, fmt.Errorf("dhcp: ACK without an address (yiaddr %v)", ack.YourIPAddr)
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	bits, size := mask.Size()
	if size != 32 || bits == 0 {
		return Lease{}, fmt.Errorf("dhcp: ACK with bad subnet mask %v", mask)
	}
	l := Lease{Address: netip.PrefixFrom(ip, bits), Obtained: obtained}
	for _, r := range ack.Router() {
		if g, ok := netip.AddrFromSlice(r.To4()); ok && !g.IsUnspecified() {
			l.Gateway = g
			break
		}
	}
	l.DNS = addrs(ack.DNS())
	if s := ack.DomainSearch(); s != nil {
		l.Search = append(l.Search, s.Labels...)
	} else if d := ack.DomainName(); d != "" {
		l.Search = []string{d}
	}
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier().To4()); ok {
		l.Server = s
	}
	d := ack.IPAddressLeaseTime(0)
	if d == infiniteLease {
		d = 0
	} else if d <= 0 {
		return Lease{}, errors.New("dhcp: ACK without a lease time")
	}
	l.Duration = d
	l.T1 = ack.IPAddressRenewalTime(0)
	l.T2 = ack.IPAddressRebindingTime(0)
	return l, nil
}

func addrs(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok && !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	return out
}

// Summary is the console line, e.g. "eth0 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3".
func (l Lease) Summary(iface string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", iface, l.Address)
	if l.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", l.Gateway)
	}
	if len(l.DNS) > 0 {
		ds := make([]string, len(l.DNS))
		for i, d := range l.DNS {
			ds[i] = d.String()
		}
		fmt.Fprintf(&b, " dns %s", strings.Join(ds, ","))
	}
	return b.String()
}

// Timers are when, counted from Obtained, to renew (T1), rebind (T2) and
// give the address up (Expiry). Zero Expiry means never.
type Timers struct {
	T1, T2, Expiry time.Duration
}

// Plan sanitizes the server's timers as RFC 2131 4.4.5 asks: defaults
// T1 = 0.5 and T2 = 0.875 of the lease, and T1 < T2 < lease enforced.
func (l Lease) Plan() Timers {
	d := l.Duration
	if d == 0 {
		return Timers{}
	}
	t1, t2 := l.T1, l.T2
	if t2 <= 0 || t2 >= d {
		t2 = d * 7 / 8
	}
	if t1 <= 0 || t1 >= t2 {
		t1 = min(d/2, t2)
		if t1 == t2 {
			t1 = t2 / 2
		}
	}
	return Timers{T1: t1, T2: t2, Expiry: d}
}

// RetryIn is the wait before the next renew or rebind attempt when one
// failed with remaining time left before the next deadline: half of it
// (RFC 2131 4.4.5), at least minRetry, never past the deadline.
func RetryIn(remaining time.Duration) time.Duration {
	const minRetry = time.Minute
	if remaining <= 0 {
		return 0
	}
	return min(max(remaining/2, minRetry), remaining)
}
