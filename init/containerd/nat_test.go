package containerd

import (
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestNATAndForwardFilter builds a gateway in network namespaces: a
// container on the bridge, the gateway, and a neighbour on the uplink.
// Before the rules, the neighbour (with a route through the gateway) can
// reach the container's port; after Masquerade, it cannot, while the
// container reaches the neighbour, seen as the gateway's address.
func TestNATAndForwardFilter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	gw, ctr, lan := newNS(t), newNS(t), newNS(t)
	link := func(ns netns.NsHandle, name, peer string, peerNS netns.NsHandle) {
		h := nsHandle(t, ns)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(peerNS)}
		must(t, h.LinkAdd(veth))
	}
	link(gw, "vc0", "eth0", ctr)
	link(gw, "up0", "up1", lan)
	g := nsHandle(t, gw)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "edge0"}}
	must(t, g.LinkAdd(br))
	vc0, err := g.LinkByName("vc0")
	must(t, err)
	must(t, g.LinkSetMaster(vc0, br))
	addr(t, gw, "edge0", "10.88.0.1/16", "")
	addr(t, gw, "vc0", "", "")
	addr(t, gw, "up0", "192.168.50.2/24", "")
	addr(t, ctr, "eth0", "10.88.0.2/16", "10.88.0.1")
	addr(t, lan, "up1", "192.168.50.1/24", "")
	_, containers, _ := net.ParseCIDR("10.88.0.0/16")
	up1, err := nsHandle(t, lan).LinkByName("up1")
	must(t, err)
	must(t, nsHandle(t, lan).RouteAdd(&netlink.Route{LinkIndex: up1.Attrs().Index, Dst: containers, Gw: net.ParseIP("192.168.50.2")}))
	in(t, gw, func() { must(t, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)) })

	listen(t, ctr, "10.88.0.2:8080")
	if !dials(t, lan, "10.88.0.2:8080") {
		t.Fatal("without the rules the neighbour should reach the container (the test would prove nothing)")
	}
	in(t, gw, func() { must(t, Masquerade("10.88.0.0/16", "edge0")) })
	if dials(t, lan, "10.88.0.2:8080") {
		t.Error("the neighbour reached a container port that is not published")
	}

	lanListener := listen(t, lan, "192.168.50.1:9090")
	seen := make(chan string, 1)
	go func() {
		c, err := lanListener.Accept()
		if err == nil {
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	if !dials(t, ctr, "192.168.50.1:9090") {
		t.Fatal("the container cannot reach the uplink")
	}
	select {
	case ip := <-seen:
		if ip != "192.168.50.2" {
			t.Errorf("neighbour saw %s, want the gateway's 192.168.50.2 (masqueraded)", ip)
		}
	case <-time.After(5 * time.Second):
		t.Error("neighbour accepted nothing")
	}
}

func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
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

// addr brings lo and the link up, with an address and a default route if given.
func addr(t *testing.T, ns netns.NsHandle, name, cidr, gateway string) {
	t.Helper()
	h := nsHandle(t, ns)
	for _, n := range []string{"lo", name} {
		l, err := h.LinkByName(n)
		must(t, err)
		must(t, h.LinkSetUp(l))
	}
	l, _ := h.LinkByName(name)
	if cidr != "" {
		a, err := netlink.ParseAddr(cidr)
		must(t, err)
		must(t, h.AddrAdd(l, a))
	}
	if gateway != "" {
		must(t, h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gateway)}))
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

// listen opens a listener in ns; the socket stays in ns when the thread leaves.
func listen(t *testing.T, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	in(t, ns, func() {
		var err error
		l, err = net.Listen("tcp", addr)
		must(t, err)
	})
	t.Cleanup(func() { l.Close() })
	return l
}

func dials(t *testing.T, ns netns.NsHandle, addr string) bool {
	t.Helper()
	ok := false
	in(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			ok = true
			c.Close()
		}
	})
	return ok
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
