package netconf

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/vishvananda/netlink"
)

// The DHCP test runs the client and a server in two network namespaces it
// creates, joined by a veth pair, using only 10.77.0.0/24. Each side is
// this test binary re-executed under "ip netns exec", selected by
// helperEnv, so every thread of it lives in its namespace.
const helperEnv = "EDGEGATE_NETCONF_HELPER"

var (
	nsServerIP = net.IPv4(10, 77, 0, 1)
	nsClientIP = net.IPv4(10, 77, 0, 100)
	nsDNS      = net.IPv4(10, 77, 0, 53)
)

const nsLease = 6 * time.Second // T1 at 3 s: the test sees a renewal

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "server":
		os.Exit(runServerHelper(os.Getenv("IFACE")))
	case "client":
		os.Exit(runClientHelper(os.Getenv("IFACE"), os.Getenv("RESOLV")))
	}
	os.Exit(m.Run())
}

func TestDHCPLeaseRenewalAndLinkFlapInNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (ip netns add)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command")
	}
	id := fmt.Sprint(os.Getpid() % 100000)
	srvNS, cliNS, srvIf, cliIf := "egsrv"+id, "egcli"+id, "egvs"+id, "egvc"+id
	if out, err := exec.Command("ip", "netns", "add", srvNS).CombinedOutput(); err != nil {
		t.Skipf("network namespaces unavailable: ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", srvNS).Run() })
	ip(t, "netns", "add", cliNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", cliNS).Run() })
	ip(t, "link", "add", srvIf, "type", "veth", "peer", "name", cliIf)
	ip(t, "link", "set", srvIf, "netns", srvNS)
	ip(t, "link", "set", cliIf, "netns", cliNS)
	ip(t, "-n", srvNS, "addr", "add", "10.77.0.1/24", "dev", srvIf)
	ip(t, "-n", srvNS, "link", "set", srvIf, "up")
	ip(t, "-n", srvNS, "link", "set", "lo", "up")

	server := helper(srvNS, "server", "IFACE="+srvIf)
	var serverOut bytes.Buffer
	server.Stdout, server.Stderr = &serverOut, &serverOut
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })

	resolv := t.TempDir() + "/resolv.conf"
	client := helper(cliNS, "client", "IFACE="+cliIf, "RESOLV="+resolv)
	out, err := client.CombinedOutput()
	t.Logf("client:\n%s", out)
	if err != nil {
		t.Fatalf("client helper: %v\nserver:\n%s", err, serverOut.String())
	}
	for _, want := range []string{
		"EVENT bound net: " + cliIf + " 10.77.0.100/24 via 10.77.0.1 dns 10.77.0.53 (dhcp bound, lease 6s)",
		"EVENT renewed",
		"EVENT link down",
		"EVENT link up",
		"EVENT bound-again",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client output lacks %q", want)
		}
	}
	addr := ipOut(t, "-n", cliNS, "-4", "-o", "addr", "show", "dev", cliIf)
	if !strings.Contains(addr, "10.77.0.100/24") {
		t.Errorf("client address not set: %s", addr)
	}
	if route := ipOut(t, "-n", cliNS, "route", "show", "default"); !strings.Contains(route, "via 10.77.0.1") {
		t.Errorf("default route not set: %q", route)
	}
	got, err := os.ReadFile(resolv)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "# written by edgegate init\nnameserver 10.77.0.53\n" {
		t.Errorf("resolv.conf:\n%s", got)
	}
}

func helper(ns, role string, env ...string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+role), env...)
	return cmd
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	ipOut(t, args...)
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runServerHelper answers DISCOVER with OFFER and REQUEST with ACK,
// handing out 10.77.0.100 for nsLease. It runs until killed.
func runServerHelper(iface string) int {
	handler := func(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
		var typ dhcpv4.MessageType
		switch m.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			typ = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			typ = dhcpv4.MessageTypeAck
		default:
			return
		}
		reply, err := dhcpv4.NewReplyFromRequest(m,
			dhcpv4.WithMessageType(typ),
			dhcpv4.WithYourIP(nsClientIP),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(nsServerIP),
			dhcpv4.WithDNS(nsDNS),
			dhcpv4.WithLeaseTime(uint32(nsLease/time.Second)),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(nsServerIP)),
		)
		if err != nil {
			fmt.Println("server: reply:", err)
			return
		}
		dst := peer.(*net.UDPAddr)
		if dst.IP.IsUnspecified() {
			dst = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
		}
		fmt.Printf("server: %s -> %s to %s\n", m.MessageType(), typ, dst)
		if _, err := conn.WriteTo(reply.ToBytes(), dst); err != nil {
			fmt.Println("server: send:", err)
		}
	}
	s, err := server4.NewServer(iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ServerPort}, handler)
	if err != nil {
		fmt.Println("server:", err)
		return 1
	}
	if err := s.Serve(); err != nil {
		fmt.Println("server:", err)
		return 1
	}
	return 0
}

// runClientHelper keeps a lease with DHCP.Run and walks it through a
// renewal and a link flap, printing each event.
func runClientHelper(iface, resolv string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	events := make(chan Event, 64)
	d := &DHCP{Interface: iface, ResolvConf: resolv, Hostname: "gw-test", Timeout: 2 * time.Second,
		OnEvent: func(e Event) { events <- e }}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	await := func(kind EventKind, label string) bool {
		for {
			select {
			case e := <-events:
				fmt.Fprintf(w, "EVENT %s %s\n", label, e)
				if e.Kind == kind {
					return true
				}
			case <-ctx.Done():
				fmt.Fprintf(w, "timed out waiting for %s\n", kind)
				return false
			}
		}
	}
	if !await(EventBound, "bound") || !await(EventRenewed, "renewed") {
		return 1
	}
	link, err := netlink.LinkByName(iface)
	if err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	if err := netlink.LinkSetDown(link); err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	if !await(EventLinkDown, "link down") {
		return 1
	}
	if err := netlink.LinkSetUp(link); err != nil {
		fmt.Fprintln(w, err)
		return 1
	}
	if !await(EventLinkUp, "link up") || !await(EventBound, "bound-again") {
		return 1
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(w, "Run:", err)
		return 1
	}
	return 0
}
