package containerd

import (
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// natTable is edgegate's own nftables table; it is replaced whole at every
// start so a restart never stacks duplicate rules.
const natTable = "edgegate-nat"

// Masquerade installs NAT for traffic from subnet leaving through any
// interface but bridge, so containers reach what the gateway reaches. It
// speaks netlink directly: the image carries no iptables or nft program.
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
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: install masquerade for %s: %w", subnet, err)
	}
	return nil
}

// masqueradeExprs is: ip saddr & mask == net, oifname != bridge, masquerade.
func masqueradeExprs(ipnet *net.IPNet, bridge string) []expr.Any {
	ifname := make([]byte, 16) // IFNAMSIZ, NUL padded as the kernel compares it
	copy(ifname, bridge)
	return []expr.Any{
		// ip saddr: network header offset 12, 4 bytes
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ipnet.Mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ipnet.IP.To4()},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname},
		&expr.Masq{},
	}
}
