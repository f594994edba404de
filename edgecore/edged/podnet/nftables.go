package podnet

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// ipsDstNAT is the conntrack status bit of a destination-NATed connection
// (IPS_DST_NAT), the bit init's forward chain accepts on.
const ipsDstNAT = 1 << 5

// installTable replaces the host port table with one holding dnats and
// hairpin masquerade for subnets, in one netlink transaction: the ports
// in effect are the old set or the new, never a mix. The table is
//   - prerouting (dstnat): connections arriving for a published port;
//   - output (dstnat): the node's own connections to its addresses;
//   - postrouting (srcnat): hairpin, a pod reaching a published port of a
//     pod on its own bridge; without masquerade the answer would go from
//     pod to pod across the bridge, past the conntrack entry that expects it
//     from the node's address.
func installTable(name string, dnats []dnat, subnets []netip.Prefix) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables table %s: netlink: %w", name, err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: name}
	// Add before delete: deleting a table that is not there fails the
	// whole transaction.
	c.AddTable(t)
	c.DelTable(t)
	t = c.AddTable(t)
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	for _, d := range dnats {
		comment := userdata.AppendString(nil, userdata.TypeComment, d.ref)
		for _, ch := range []*nftables.Chain{pre, out} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: dnatExprs(d), UserData: comment})
		}
	}
	for _, s := range subnets {
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: hairpinExprs(s)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: install %d host ports: %w", name, len(dnats), err)
	}
	return nil
}

// dnatExprs is: meta l4proto P, th dport H, the destination (ip daddr
// HostIP, or fib daddr type local and not 127.0.0.0/8), dnat to
// podIP:port.
func dnatExprs(d dnat) []expr.Any {
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protocols[d.protocol]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(d.hostPort)},
	}
	if d.hostIP.IsValid() {
		e = append(e, daddr(), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: d.hostIP.AsSlice()})
	} else {
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
			daddr(),
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127, 0, 0, 0}},
		)
	}
	return append(e,
		&expr.Immediate{Register: 1, Data: d.podIP.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(d.port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

// hairpinExprs is: ct status dnat, ip saddr and ip daddr in s, masquerade.
func hairpinExprs(s netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	for i := range s.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	inSubnet := func(offset uint32) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: s.Masked().Addr().AsSlice()},
		}
	}
	e := []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
	e = append(e, inSubnet(12)...) // ip saddr
	e = append(e, inSubnet(16)...) // ip daddr
	return append(e, &expr.Masq{})
}

// daddr loads the IPv4 destination address into register 1.
func daddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
}
