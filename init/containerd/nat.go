package containerd

import (
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// natTable is edgegate's own nftables table; it is replaced whole at every
// start so a restart never stacks duplicate rules.
const natTable = "edgegate-containers"

// ipsDstNAT is the conntrack status bit of a destination-NATed connection
// (IPS_DST_NAT): a host port edged published for a pod.
const ipsDstNAT = 1 << 5

// Masquerade installs NAT for traffic from subnet leaving through any
// interface but bridge, so containers reach what the gateway reaches, and
// a forward filter: containers may open connections out, replies and
// published ports come in, nothing else is routed (forwarding is on for
// the containers; the gateway must not become a router between uplinks or
// let a neighbour reach container ports by adding a route). It speaks
// netlink directly: the image carries no iptables or nft program.
func Masquerade(subnet, bridge string) error {
	_, ipnet, err := net.ParseCIDR(subnet)
	if err != nil {
		return fmt.Errorf("nat: subnet %q: %w", subnet, err)
	}
	if ipnet.IP.To4() == nil {
		return fmt.Errorf("nat: subnet %s is not IPv4", subnet)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat: netlink: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable}
	// Delete and add in one transaction: the table is absent on first start.
	c.AddTable(t)
	c.DelTable(t)
	t = c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masqueradeExprs(ipnet, bridge)})
	drop := nftables.ChainPolicyDrop
	fwd := c.AddChain(&nftables.Chain{
		Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})
	for _, exprs := range forwardRules(bridge) {
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: install masquerade for %s: %w", subnet, err)
	}
	return nil
}

// masqueradeExprs is: ip saddr & mask == net, oifname != bridge, masquerade.
func masqueradeExprs(ipnet *net.IPNet, bridge string) []expr.Any {
	return []expr.Any{
		// ip saddr: network header offset 12, 4 bytes
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ipnet.Mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ipnet.IP.To4()},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(bridge)},
		&expr.Masq{},
	}
}

// forwardRules accept, in order: replies and related traffic, anything the
// containers send, and connections to published ports. The chain's policy
// drops the rest.
func forwardRules(bridge string) [][]expr.Any {
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	return [][]expr.Any{
		append(ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept),
		{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(bridge)},
			accept,
		},
		append(ctBits(expr.CtKeySTATUS, ipsDstNAT), accept),
	}
}

// ctBits matches when any of bits is set in the conntrack field key.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes,
// NUL padded.
func ifname(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}
