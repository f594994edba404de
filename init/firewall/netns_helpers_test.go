package firewall

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// How long a blocked connection attempt or datagram is given: the
// namespaces are on one host, an answer takes microseconds.
const patience = time.Second

func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	var ns netns.NsHandle
	var err error
	onThread(t, func() { ns, err = netns.New() }) // New also switches the thread
	if err != nil {
		t.Skipf("network namespaces: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func nsHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	t.Cleanup(h.Close)
	return h
}

// veth links ns's name to peer in peerNS.
func veth(t *testing.T, ns netns.NsHandle, name, peer string, peerNS netns.NsHandle) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(peerNS)}
	must(t, nsHandle(t, ns).LinkAdd(v))
}

// up brings lo and the link up, with the addresses given (IPv6 ones
// without duplicate address detection, usable at once) and a default
// route through gateway if set.
func up(t *testing.T, ns netns.NsHandle, name, gateway string, cidrs ...string) {
	t.Helper()
	h := nsHandle(t, ns)
	for _, n := range []string{"lo", name} {
		l, err := h.LinkByName(n)
		must(t, err)
		must(t, h.LinkSetUp(l))
	}
	l, err := h.LinkByName(name)
	must(t, err)
	for _, c := range cidrs {
		a, err := netlink.ParseAddr(c)
		must(t, err)
		a.Flags = unix.IFA_F_NODAD
		must(t, h.AddrAdd(l, a))
	}
	if gateway != "" {
		must(t, h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gateway)}))
	}
}

// forgetNeighbours empties the link's neighbour (ARP and NDP) cache.
func forgetNeighbours(t *testing.T, ns netns.NsHandle, name string) {
	t.Helper()
	h := nsHandle(t, ns)
	l, err := h.LinkByName(name)
	must(t, err)
	neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
	must(t, err)
	for _, n := range neighs {
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("forget neighbour %s on %s: %v", n.IP, name, err)
		}
	}
}

// in runs f on a thread switched into ns.
func in(t *testing.T, ns netns.NsHandle, f func()) {
	t.Helper()
	onThread(t, func() {
		must(t, netns.Set(ns))
		f()
	})
}

// onThread runs f on a locked thread and puts the thread back into this
// process's network namespace afterwards, whatever f switched to.
func onThread(t *testing.T, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	must(t, err)
	defer orig.Close()
	defer netns.Set(orig)
	f()
}

// serveTCP accepts connections in ns on addr and closes them; the socket
// stays in ns when the thread leaves.
func serveTCP(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var l net.Listener
	in(t, ns, func() {
		var err error
		l, err = net.Listen("tcp", addr)
		must(t, err)
	})
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// echoUDP answers every datagram to addr in ns with the same bytes.
func echoUDP(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var pc net.PacketConn
	in(t, ns, func() {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		must(t, err)
	})
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, src, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], src)
		}
	}()
}

// eventually reports whether ok becomes true within a few seconds: links
// just brought up (a bridge port, say) may take a moment to pass packets.
func eventually(ok func() bool) bool {
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ok() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// dials reports whether a TCP connection from ns to addr is accepted.
func dials(t *testing.T, ns netns.NsHandle, addr string) bool {
	t.Helper()
	ok := false
	in(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, patience)
		if err == nil {
			ok = true
			c.Close()
		}
	})
	return ok
}

// asksUDP reports whether a datagram from ns (from local, "" for any
// port) to addr is answered.
func asksUDP(t *testing.T, ns netns.NsHandle, local, addr string) bool {
	t.Helper()
	ok := false
	in(t, ns, func() {
		pc, err := net.ListenPacket("udp", local)
		must(t, err)
		defer pc.Close()
		to, err := net.ResolveUDPAddr("udp", addr)
		must(t, err)
		_, err = pc.WriteTo([]byte("edgegate?"), to)
		must(t, err)
		pc.SetReadDeadline(time.Now().Add(patience))
		buf := make([]byte, 64)
		n, _, err := pc.ReadFrom(buf)
		ok = err == nil && string(buf[:n]) == "edgegate?"
	})
	return ok
}

// pings reports whether an ICMP echo request from ns to the IPv4 address
// is answered.
func pings(t *testing.T, ns netns.NsHandle, addr string) bool {
	t.Helper()
	ok := false
	in(t, ns, func() {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		must(t, err)
		defer c.Close()
		const id, seq = 0x4567, 1
		_, err = c.WriteTo(echoRequest(id, seq), &net.IPAddr{IP: net.ParseIP(addr)})
		must(t, err)
		c.SetReadDeadline(time.Now().Add(patience))
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			// The IPv4 header is stripped: type 0 is an echo reply.
			if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id {
				ok = true
				return
			}
		}
	})
	return ok
}

// echoRequest is an ICMP echo request with its checksum.
func echoRequest(id, seq uint16) []byte {
	b := []byte{8, 0, 0, 0, 0, 0, 0, 0, 'e', 'g'}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
