package firewall

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/containerd"
	"github.com/edgegate/edgegate/init/internal/netnstest"
)

// gateway is a gateway built in network namespaces as init and edged
// build it on a device: a pod on the bridge edge0 (10.88.0.0/16) behind
// init/containerd's NAT and forward filter, a host port table publishing
// the pod's TCP 8080 as 18080 and UDP 8081 as 18081, and an uplink to a
// neighbour on the LAN (192.168.50.0/24, fd00:50::/64).
//
// Listening: the gateway on TCP 2222 (published by nothing) and 8443, UDP
// 5683 and 5684, on every address; the pod on TCP 8080 and UDP 8081; the
// neighbour on TCP 9090 and UDP 53 and 123 (a resolver, a time server).
type gateway struct {
	gw, pod, lan netns.NsHandle
}

const (
	gwLAN   = "192.168.50.2"
	gwLAN6  = "[fd00:50::2]"
	gwPods  = "10.88.0.1"
	lanAddr = "192.168.50.1"
)

var podSubnet = netip.MustParsePrefix("10.88.0.0/16")

func newGateway(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{gw: netnstest.NewNS(t), pod: netnstest.NewNS(t), lan: netnstest.NewNS(t)}
	netnstest.Veth(t, g.gw, "vc0", "eth0", g.pod)
	netnstest.Veth(t, g.gw, "up0", "up1", g.lan)
	h := netnstest.Handle(t, g.gw)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "edge0"}}
	netnstest.Must(t, h.LinkAdd(br))
	vc0, err := h.LinkByName("vc0")
	netnstest.Must(t, err)
	netnstest.Must(t, h.LinkSetMaster(vc0, br))
	netnstest.Up(t, g.gw, "edge0", "", gwPods+"/16")
	netnstest.Up(t, g.gw, "vc0", "")
	netnstest.Up(t, g.gw, "up0", "", gwLAN+"/24", "fd00:50::2/64")
	netnstest.Up(t, g.pod, "eth0", gwPods, "10.88.0.2/16")
	netnstest.Up(t, g.lan, "up1", "", lanAddr+"/24", "fd00:50::1/64")
	netnstest.In(t, g.gw, func() {
		if err := containerd.Masquerade(podSubnet.String(), "edge0"); err != nil {
			t.Fatal(err)
		}
		publish(t, gwLAN, "10.88.0.2", map[uint16]uint16{18080: 8080}, map[uint16]uint16{18081: 8081})
		// As init/containerd.Prepare does for the pods.
		netnstest.Must(t, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644))
	})

	netnstest.ServeTCP(t, g.gw, ":2222")
	netnstest.ServeTCP(t, g.gw, ":8443")
	netnstest.EchoUDP(t, g.gw, ":5683")
	netnstest.EchoUDP(t, g.gw, ":5684")
	netnstest.ServeTCP(t, g.pod, ":8080")
	netnstest.EchoUDP(t, g.pod, ":8081")
	netnstest.ServeTCP(t, g.lan, ":9090")
	netnstest.EchoUDP(t, g.lan, ":53")
	netnstest.EchoUDP(t, g.lan, ":123")
	if !netnstest.Eventually(func() bool {
		return netnstest.Dials(t, g.lan, gwLAN+":2222") && netnstest.Dials(t, g.lan, gwLAN6+":2222") && netnstest.AsksUDP(t, g.lan, "", gwLAN+":5684") &&
			netnstest.Dials(t, g.pod, gwPods+":2222") && netnstest.Dials(t, g.pod, lanAddr+":9090")
	}) {
		t.Fatal("without the firewall, the neighbour and the pod should reach the gateway's ports and the pod the neighbour's")
	}
	return g
}

// install installs the firewall in the gateway's namespace.
func (g *gateway) install(t *testing.T, r Rules) {
	t.Helper()
	r.Bridge, r.PodSubnet = "edge0", podSubnet
	netnstest.In(t, g.gw, func() { netnstest.Must(t, Install(r)) })
	// What the namespaces learned of each other before must be learned
	// again through the firewall (IPv6 neighbour discovery is ICMPv6).
	netnstest.ForgetNeighbours(t, g.gw, "up0")
	netnstest.ForgetNeighbours(t, g.lan, "up1")
}

func (g *gateway) counts(t *testing.T) Counts {
	t.Helper()
	var n Counts
	netnstest.In(t, g.gw, func() {
		var err error
		n, err = Read()
		netnstest.Must(t, err)
	})
	return n
}

// TestInputFilter checks what reaches the gateway from the LAN and from
// its pods once the firewall is installed.
func TestInputFilter(t *testing.T) {
	g := newGateway(t) // which checked that, without the firewall, every port answers
	g.install(t, Rules{AllowInput: []Port{{"tcp", 8443}, {"udp", 5683}}})

	for _, c := range []struct {
		what string
		got  bool
		want bool
	}{
		{"neighbour to a port nothing publishes (TCP 2222)", netnstest.Dials(t, g.lan, gwLAN+":2222"), false},
		{"neighbour to it over IPv6", netnstest.Dials(t, g.lan, gwLAN6+":2222"), false},
		{"neighbour to a UDP port not allowed (5684)", netnstest.AsksUDP(t, g.lan, "", gwLAN+":5684"), false},
		{"pod to the gateway's TCP 2222", netnstest.Dials(t, g.pod, gwPods+":2222"), false},
		{"neighbour to an allowed TCP port (8443)", netnstest.Dials(t, g.lan, gwLAN+":8443"), true},
		{"neighbour to it over IPv6 (neighbour discovery passes)", netnstest.Dials(t, g.lan, gwLAN6+":8443"), true},
		{"neighbour to an allowed UDP port (5683)", netnstest.AsksUDP(t, g.lan, "", gwLAN+":5683"), true},
		{"pod to an allowed port", netnstest.Dials(t, g.pod, gwPods+":8443"), true},
		{"neighbour to the pod's published TCP port", netnstest.Dials(t, g.lan, gwLAN+":18080"), true},
		{"neighbour to the pod's published UDP port", netnstest.AsksUDP(t, g.lan, "", gwLAN+":18081"), true},
		{"gateway to the neighbour (TCP, the reply comes back)", netnstest.Dials(t, g.gw, lanAddr+":9090"), true},
		{"gateway to a time server (UDP, the reply comes back)", netnstest.AsksUDP(t, g.gw, "", lanAddr+":123"), true},
		{"gateway to the neighbour over IPv6", netnstest.Dials(t, g.gw, "[fd00:50::1]:9090"), true},
		{"neighbour pings the gateway", netnstest.Pings(t, g.lan, gwLAN), true},
		{"pod pings the gateway", netnstest.Pings(t, g.pod, gwPods), true},
		{"pod to the neighbour (no egress limit)", netnstest.Dials(t, g.pod, lanAddr+":9090"), true},
	} {
		if c.got != c.want {
			t.Errorf("%s: got through %v, want %v", c.what, c.got, c.want)
		}
	}
	n := g.counts(t)
	if n.Input == 0 || n.Pods == 0 {
		t.Errorf("drops not counted: %s", n)
	}
	t.Logf("dropped: %s", n)
}

// TestDHCPThroughFilter: a DHCP server's replies reach a client socket on
// port 68 (other sources do not), and the gateway's DHCP client library
// gets its lease with the firewall in place.
func TestDHCPThroughFilter(t *testing.T) {
	g := newGateway(t)
	g.install(t, Rules{})
	netnstest.EchoUDP(t, g.gw, ":68")
	if !netnstest.AsksUDP(t, g.lan, ":67", gwLAN+":68") {
		t.Error("a DHCP server's reply (UDP 67 to 68) did not reach the gateway")
	}
	if netnstest.AsksUDP(t, g.lan, ":1067", gwLAN+":68") {
		t.Error("UDP to port 68 from a port other than 67 reached the gateway")
	}

	var server *server4.Server
	netnstest.In(t, g.lan, func() {
		var err error
		server, err = server4.NewServer("up1", &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, offer)
		netnstest.Must(t, err)
	})
	go server.Serve()
	t.Cleanup(func() { server.Close() })
	var client *nclient4.Client
	netnstest.In(t, g.gw, func() {
		var err error
		client, err = nclient4.New("up0", nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(2))
		netnstest.Must(t, err)
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	lease, err := client.Request(ctx)
	if err != nil {
		t.Fatalf("no lease through the firewall: %v", err)
	}
	if got := lease.ACK.YourIPAddr.String(); got != "192.168.50.100" {
		t.Errorf("leased %s, want 192.168.50.100", got)
	}
}

// offer answers DISCOVER and REQUEST, leasing 192.168.50.100.
func offer(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	typ := dhcpv4.MessageTypeOffer
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
	case dhcpv4.MessageTypeRequest:
		typ = dhcpv4.MessageTypeAck
	default:
		return
	}
	server := net.ParseIP(lanAddr)
	reply, err := dhcpv4.NewReplyFromRequest(m,
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithYourIP(net.ParseIP("192.168.50.100")),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(server),
		dhcpv4.WithLeaseTime(60),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server)),
	)
	if err != nil {
		return
	}
	dst := peer.(*net.UDPAddr)
	if dst.IP.IsUnspecified() {
		dst = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
	}
	conn.WriteTo(reply.ToBytes(), dst)
}

// TestEgress limits where pods connect: only the listed networks and DNS
// to the gateway's resolvers, while published ports still answer.
func TestEgress(t *testing.T) {
	g := newGateway(t)
	g.install(t, Rules{Egress: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")},
		Resolvers: []netip.Addr{netip.MustParseAddr(lanAddr)}})
	for _, c := range []struct {
		what string
		got  bool
		want bool
	}{
		{"pod to the neighbour, outside egress", netnstest.Dials(t, g.pod, lanAddr+":9090"), false},
		{"pod to a time server outside egress", netnstest.AsksUDP(t, g.pod, "", lanAddr+":123"), false},
		{"pod to the gateway's resolver", netnstest.AsksUDP(t, g.pod, "", lanAddr+":53"), true},
		{"neighbour to the pod's published port", netnstest.Dials(t, g.lan, gwLAN+":18080"), true},
		{"neighbour to the pod's published UDP port", netnstest.AsksUDP(t, g.lan, "", gwLAN+":18081"), true},
		{"gateway itself to the neighbour", netnstest.Dials(t, g.gw, lanAddr+":9090"), true},
	} {
		if c.got != c.want {
			t.Errorf("%s: got through %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := g.counts(t); n.Egress == 0 {
		t.Errorf("egress drops not counted: %s", n)
	}

	netnstest.In(t, g.gw, func() { netnstest.Must(t, SetResolvers(nil)) })
	if netnstest.AsksUDP(t, g.pod, "", lanAddr+":53") {
		t.Error("the pod still asks a server that is no longer a resolver")
	}

	g.install(t, Rules{Egress: []netip.Prefix{netip.MustParsePrefix("192.168.50.0/24")}})
	if !netnstest.Dials(t, g.pod, lanAddr+":9090") {
		t.Error("pod cannot reach a network listed in egress")
	}
}

// publish is edged's host port table reduced to what the firewall meets:
// DNAT in prerouting of the gateway's address's TCP and UDP ports to the
// pod's.
func publish(t *testing.T, hostIP, podIP string, tcp, udp map[uint16]uint16) {
	t.Helper()
	c, err := nftables.New()
	netnstest.Must(t, err)
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "test-hostports"})
	ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: tb, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	for proto, ports := range map[byte]map[uint16]uint16{unix.IPPROTO_TCP: tcp, unix.IPPROTO_UDP: udp} {
		for host, port := range ports {
			c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(hostIP).To4()},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(host)},
				&expr.Immediate{Register: 1, Data: net.ParseIP(podIP).To4()},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
			}})
		}
	}
	netnstest.Must(t, c.Flush())
}
