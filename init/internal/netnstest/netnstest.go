// Package netnstest builds small networks of Linux network namespaces for
// tests of packet filtering and NAT: namespaces joined by veth pairs, and
// probes (TCP dial, UDP echo, ICMP echo) run from inside one of them.
// Every helper fails the test on a setup error; a test that is not root
// is skipped, since namespaces need CAP_SYS_ADMIN.
package netnstest

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

// Patience is how long a blocked connection attempt or datagram is given: the
// namespaces are on one host, an answer takes microseconds.
const Patience = time.Second

// NewNS makes a network namespace, closed when the test ends.
func NewNS(t testing.TB) netns.NsHandle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	var ns netns.NsHandle
	var err error
	OnThread(t, func() { ns, err = netns.New() }) // New also switches the thread
	if err != nil {
		t.Skipf("network namespaces: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// Handle is a netlink handle working in ns.
func Handle(t testing.TB, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	Must(t, err)
	t.Cleanup(h.Close)
	return h
}

// Veth links ns's name to peer in peerNS.
func Veth(t testing.TB, ns netns.NsHandle, name, peer string, peerNS netns.NsHandle) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(peerNS)}
	Must(t, Handle(t, ns).LinkAdd(v))
}

// Up brings lo and the link up, with the addresses given (IPv6 ones
// without duplicate address detection, usable at once) and a default
// route through gateway if set.
func Up(t testing.TB, ns netns.NsHandle, name, gateway string, cidrs ...string) {
	t.Helper()
	h := Handle(t, ns)
	for _, n := range []string{"lo", name} {
		l, err := h.LinkByName(n)
		Must(t, err)
		Must(t, h.LinkSetUp(l))
	}
	l, err := h.LinkByName(name)
	Must(t, err)
	for _, c := range cidrs {
		a, err := netlink.ParseAddr(c)
		Must(t, err)
		a.Flags = unix.IFA_F_NODAD
		Must(t, h.AddrAdd(l, a))
	}
	if gateway != "" {
		Must(t, h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gateway)}))
	}
}

// ForgetNeighbours empties the link's neighbour (ARP and NDP) cache.
func ForgetNeighbours(t testing.TB, ns netns.NsHandle, name string) {
	t.Helper()
	h := Handle(t, ns)
	l, err := h.LinkByName(name)
	Must(t, err)
	neighs, err := h.NeighList(l.Attrs().Index, netlink.FAMILY_ALL)
	Must(t, err)
	for _, n := range neighs {
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("forget neighbour %s on %s: %v", n.IP, name, err)
		}
	}
}

// In runs f on a thread switched into ns.
func In(t testing.TB, ns netns.NsHandle, f func()) {
	t.Helper()
	OnThread(t, func() {
		Must(t, netns.Set(ns))
		f()
	})
}

// OnThread runs f on a locked thread and puts the thread back into this
// process's network namespace afterwards, whatever f switched to.
func OnThread(t testing.TB, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	Must(t, err)
	defer orig.Close()
	defer netns.Set(orig)
	f()
}

// Listen opens a TCP listener in ns, closed when the test ends; the
// socket stays in ns when the thread leaves.
func Listen(t testing.TB, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	In(t, ns, func() {
		var err error
		l, err = net.Listen("tcp", addr)
		Must(t, err)
	})
	t.Cleanup(func() { l.Close() })
	return l
}

// ServeTCP accepts connections in ns on addr and closes them.
func ServeTCP(t testing.TB, ns netns.NsHandle, addr string) {
	t.Helper()
	l := Listen(t, ns, addr)
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

// EchoUDP answers every datagram to addr in ns with the same bytes.
func EchoUDP(t testing.TB, ns netns.NsHandle, addr string) {
	t.Helper()
	var pc net.PacketConn
	In(t, ns, func() {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		Must(t, err)
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

// Eventually reports whether ok becomes true within a few seconds: links
// just brought up (a bridge port, say) may take a moment to pass packets.
func Eventually(ok func() bool) bool {
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ok() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// Dials reports whether a TCP connection from ns to addr is accepted.
func Dials(t testing.TB, ns netns.NsHandle, addr string) bool {
	t.Helper()
	ok := false
	In(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, Patience)
		if err == nil {
			ok = true
			c.Close()
		}
	})
	return ok
}

// AsksUDP reports whether a datagram from ns (from local, "" for any
// port) to addr is answered.
func AsksUDP(t testing.TB, ns netns.NsHandle, local, addr string) bool {
	t.Helper()
	ok := false
	In(t, ns, func() {
		pc, err := net.ListenPacket("udp", local)
		Must(t, err)
		defer pc.Close()
		to, err := net.ResolveUDPAddr("udp", addr)
		Must(t, err)
		_, err = pc.WriteTo([]byte("edgegate?"), to)
		Must(t, err)
		pc.SetReadDeadline(time.Now().Add(Patience))
		buf := make([]byte, 64)
		n, _, err := pc.ReadFrom(buf)
		ok = err == nil && string(buf[:n]) == "edgegate?"
	})
	return ok
}

// Pings reports whether an ICMP echo request from ns to the IPv4 address
// is answered.
func Pings(t testing.TB, ns netns.NsHandle, addr string) bool {
	t.Helper()
	ok := false
	In(t, ns, func() {
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		Must(t, err)
		defer c.Close()
		const id, seq = 0x4567, 1
		_, err = c.WriteTo(echoRequest(id, seq), &net.IPAddr{IP: net.ParseIP(addr)})
		Must(t, err)
		c.SetReadDeadline(time.Now().Add(Patience))
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

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
