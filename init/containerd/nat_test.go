package containerd

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/edgegate/edgegate/init/internal/netnstest"
)

// TestNATAndForwardFilter builds a gateway in network namespaces: a
// container on the bridge, the gateway, and a neighbour on the uplink.
// Before the rules, the neighbour (with a route through the gateway) can
// reach the container's port; after Masquerade, it cannot, while the
// container reaches the neighbour, seen as the gateway's address.
func TestNATAndForwardFilter(t *testing.T) {
	gw, ctr, lan := netnstest.NewNS(t), netnstest.NewNS(t), netnstest.NewNS(t)
	netnstest.Veth(t, gw, "vc0", "eth0", ctr)
	netnstest.Veth(t, gw, "up0", "up1", lan)
	g := netnstest.Handle(t, gw)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "edge0"}}
	netnstest.Must(t, g.LinkAdd(br))
	vc0, err := g.LinkByName("vc0")
	netnstest.Must(t, err)
	netnstest.Must(t, g.LinkSetMaster(vc0, br))
	netnstest.Up(t, gw, "edge0", "", "10.88.0.1/16")
	netnstest.Up(t, gw, "vc0", "")
	netnstest.Up(t, gw, "up0", "", "192.168.50.2/24")
	netnstest.Up(t, ctr, "eth0", "10.88.0.1", "10.88.0.2/16")
	netnstest.Up(t, lan, "up1", "", "192.168.50.1/24")
	_, containers, _ := net.ParseCIDR("10.88.0.0/16")
	up1, err := netnstest.Handle(t, lan).LinkByName("up1")
	netnstest.Must(t, err)
	netnstest.Must(t, netnstest.Handle(t, lan).RouteAdd(&netlink.Route{LinkIndex: up1.Attrs().Index, Dst: containers, Gw: net.ParseIP("192.168.50.2")}))
	netnstest.In(t, gw, func() { netnstest.Must(t, os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)) })

	netnstest.Listen(t, ctr, "10.88.0.2:8080")
	// A bridge port just brought up may take a moment to pass packets.
	if !netnstest.Eventually(func() bool { return netnstest.Dials(t, lan, "10.88.0.2:8080") }) {
		t.Fatal("without the rules the neighbour should reach the container (the test would prove nothing)")
	}
	netnstest.In(t, gw, func() { netnstest.Must(t, Masquerade("10.88.0.0/16", "edge0")) })
	if netnstest.Dials(t, lan, "10.88.0.2:8080") {
		t.Error("the neighbour reached a container port that is not published")
	}

	lanListener := netnstest.Listen(t, lan, "192.168.50.1:9090")
	seen := make(chan string, 1)
	go func() {
		c, err := lanListener.Accept()
		if err == nil {
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	if !netnstest.Dials(t, ctr, "192.168.50.1:9090") {
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
