package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// TableName is the firewall's nftables table (family inet). init's
// container NAT and edged's host ports have tables of their own.
const TableName = "edgegate-firewall"

// Chain and set names, as `nft list table inet edgegate-firewall` shows them.
const (
	inputChain   = "input"
	forwardChain = "forward"
	resolversSet = "resolvers"
)

// The drop rules' comments name the counters Read reports.
const (
	counterInput     = "dropped: to the gateway"
	counterBroadcast = "dropped: broadcast and multicast to the gateway"
	counterPods      = "dropped: from pods to the gateway"
	counterEgress    = "dropped: from pods outside egress"
)

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

// Install replaces the firewall table with one built from r, in one
// netlink transaction: the gateway is never between two filters. It acts
// on the calling thread's network namespace.
func Install(r Rules) error {
	if r.Bridge == "" || !r.PodSubnet.Addr().Is4() {
		return errors.New("firewall: the pods' bridge and IPv4 network are required")
	}
	for _, p := range r.AllowInput {
		if _, ok := protocols[p.Protocol]; !ok || p.Number == 0 {
			return fmt.Errorf("firewall: open port %s is not a TCP or UDP port", p)
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("firewall: netlink: %w", err)
	}
	t := table()
	// Add before delete: deleting a table that is not there fails the
	// whole transaction.
	c.AddTable(t)
	c.DelTable(t)
	t = c.AddTable(t)
	resolvers := &nftables.Set{Table: t, Name: resolversSet, KeyType: nftables.TypeIPAddr}
	if err := c.AddSet(resolvers, addrElements(r.Resolvers)); err != nil {
		return fmt.Errorf("firewall: set %s: %w", resolversSet, err)
	}
	if err := addInput(c, t, r); err != nil {
		return err
	}
	addForward(c, t, r, resolvers)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: install table %s: %w", TableName, err)
	}
	return nil
}

// addInput adds the input chain: policy drop, the accepted traffic first
// (see the package comment), the counted drops last.
func addInput(c *nftables.Conn, t *nftables.Table, r Rules) error {
	drops := nftables.ChainPolicyDrop
	ch := c.AddChain(&nftables.Chain{Name: inputChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drops})
	icmp, err := typeSet(c, t, nftables.TypeICMPType, icmpTypes)
	if err != nil {
		return err
	}
	icmpv6, err := typeSet(c, t, nftables.TypeICMP6Type, icmpv6Types)
	if err != nil {
		return err
	}
	rules := [][]expr.Any{
		then(iifname(expr.CmpOpEq, "lo"), accept),
		then(ctBits(expr.CtKeySTATE, replies), accept),
		then(typeIn(unix.IPPROTO_ICMP, icmp), accept),
		then(typeIn(unix.IPPROTO_ICMPV6, icmpv6), accept),
		then(dhcpReply(), accept),
	}
	for _, p := range r.AllowInput {
		rules = append(rules, then(l4port(protocols[p.Protocol], destPort, p.Number), accept))
	}
	for _, exprs := range rules {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	counted(c, t, ch, iifname(expr.CmpOpEq, r.Bridge), counterPods)
	counted(c, t, ch, metaIs(expr.MetaKeyPKTTYPE, expr.CmpOpNeq, unix.PACKET_HOST), counterBroadcast)
	counted(c, t, ch, nil, counterInput)
	return nil
}

// addForward adds the forward chain, policy accept; with Egress set, what
// pods open towards other networks is dropped and counted.
// init/containerd's own forward chain keeps the uplinks from reaching
// container ports: a packet must pass both.
func addForward(c *nftables.Conn, t *nftables.Table, r Rules, resolvers *nftables.Set) {
	accepts := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: forwardChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accepts})
	if len(r.Egress) == 0 {
		return
	}
	rules := [][]expr.Any{
		then(iifname(expr.CmpOpNeq, r.Bridge), accept),
		then(ctBits(expr.CtKeySTATE, replies), accept),
	}
	// A pod reaching a published port is DNATed to a pod: the pod network
	// is among these.
	for _, p := range r.egressNetworks() {
		rules = append(rules, then(inNetwork(p), accept))
	}
	for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
		rules = append(rules, then(append(toResolver(resolvers), l4port(proto, destPort, 53)...), accept))
	}
	for _, exprs := range rules {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	counted(c, t, ch, nil, counterEgress)
}

// counted adds a rule that counts and drops what match matches, named by
// its comment.
func counted(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, match []expr.Any, comment string) {
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: then(match, &expr.Counter{}, drop),
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment)})
}

// typeSet is a constant anonymous set of ICMP or ICMPv6 types.
func typeSet(c *nftables.Conn, t *nftables.Table, kind nftables.SetDatatype, types []byte) (*nftables.Set, error) {
	s := &nftables.Set{Table: t, Anonymous: true, Constant: true, KeyType: kind}
	elems := make([]nftables.SetElement, len(types))
	for i, v := range types {
		elems[i] = nftables.SetElement{Key: []byte{v}}
	}
	if err := c.AddSet(s, elems); err != nil {
		return nil, fmt.Errorf("firewall: %s set: %w", kind.Name, err)
	}
	return s, nil
}

// typeIn matches ICMP (or ICMPv6) packets whose type is in s.
func typeIn(proto byte, s *nftables.Set) []expr.Any {
	return append(metaIs(expr.MetaKeyL4PROTO, expr.CmpOpEq, proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	)
}

// toResolver matches IPv4 packets to an address of the resolvers set.
func toResolver(s *nftables.Set) []expr.Any {
	return append(metaIs(expr.MetaKeyNFPROTO, expr.CmpOpEq, unix.NFPROTO_IPV4),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
	)
}

// SetResolvers makes addrs (their IPv4 ones) the DNS servers pods may ask
// when egress is limited, replacing the previous set in one transaction.
func SetResolvers(addrs []netip.Addr) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("firewall: netlink: %w", err)
	}
	s := &nftables.Set{Table: table(), Name: resolversSet, KeyType: nftables.TypeIPAddr}
	c.FlushSet(s)
	if elems := addrElements(addrs); len(elems) > 0 {
		if err := c.SetAddElements(s, elems); err != nil {
			return fmt.Errorf("firewall: resolvers: %w", err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: set resolvers %v: %w", addrs, err)
	}
	return nil
}

// addrElements are the IPv4 addresses of addrs as set elements, each once.
func addrElements(addrs []netip.Addr) []nftables.SetElement {
	var elems []nftables.SetElement
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() && !seen[a] {
			seen[a] = true
			elems = append(elems, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	return elems
}
