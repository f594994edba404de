package firewall

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/config"
)

// protocols are the transport protocol numbers of the configuration's
// protocol names.
var protocols = map[string]byte{config.ProtocolTCP: unix.IPPROTO_TCP, config.ProtocolUDP: unix.IPPROTO_UDP}

// replies are the conntrack states of packets of known connections.
const replies = expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED

// ICMP types the gateway accepts: errors (those about its own connections
// are related, but a path MTU change may come before conntrack has the
// flow) and echo requests.
var icmpTypes = []byte{
	0x03, // destination unreachable
	0x08, // echo request
	0x0b, // time exceeded
	0x0c, // parameter problem
}

// ICMPv6 types the gateway accepts: errors, echo requests, multicast
// listener discovery, and router and neighbour discovery, without which
// IPv6 does not work at all (RFC 4890). Router solicitations and redirects
// are for routers.
var icmpv6Types = []byte{
	1, 2, 3, 4, // destination unreachable, packet too big, time exceeded, parameter problem
	128,           // echo request
	130, 131, 132, // multicast listener query, report, done
	134, 135, 136, // router advertisement, neighbour solicitation and advertisement
	143, // multicast listener report v2
}

var (
	accept = &expr.Verdict{Kind: expr.VerdictAccept}
	drop   = &expr.Verdict{Kind: expr.VerdictDrop}
)

// iifname compares the input interface's name with name.
func iifname(op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes,
// NUL padded.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// metaIs matches a one-byte meta key (nfproto, l4proto, pkttype).
func metaIs(key expr.MetaKey, op expr.CmpOp, v byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{v}},
	}
}

// l4port matches the transport protocol and a port: the source port at
// offset 0 of the TCP or UDP header, the destination at 2.
func l4port(proto byte, offset uint32, port uint16) []expr.Any {
	return append(metaIs(expr.MetaKeyL4PROTO, expr.CmpOpEq, proto),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	)
}

const (
	sourcePort = 0
	destPort   = 2
)

// dhcpReply matches what a DHCPv4 server sends a client: UDP from port 67
// to port 68.
func dhcpReply() []expr.Any {
	return append(l4port(unix.IPPROTO_UDP, sourcePort, 67),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: destPort, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(68)},
	)
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

// inNetwork matches IPv4 packets whose destination is in p.
func inNetwork(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return append(metaIs(expr.MetaKeyNFPROTO, expr.CmpOpEq, unix.NFPROTO_IPV4),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	)
}

// then appends exprs to a match.
func then(match []expr.Any, exprs ...expr.Any) []expr.Any {
	return append(match, exprs...)
}
