package podnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/edgegate/edgegate/init/containerd"
)

func setup(t *testing.T, n *Network, p Pod) Attachment {
	t.Helper()
	att, err := n.Setup(context.Background(), p)
	if err != nil {
		t.Fatalf("Setup %s: %v", p.Name, err)
	}
	return att
}

func ipv4(t *testing.T, att Attachment) netip.Addr {
	t.Helper()
	for _, ip := range att.IPs {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap().Is4() {
			return a.Unmap()
		}
	}
	t.Fatalf("attachment %+v has no IPv4 address", att)
	return netip.Addr{}
}

func TestSetupAttachesPod(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		att := setup(t, n, Pod{UID: "uid-a", Namespace: "ns", Name: "a"})

		if want := filepath.Join(e.cfg.NetNSDir, "edgegate-uid-a"); att.NetNS != want {
			t.Errorf("netns = %s, want %s", att.NetNS, want)
		}
		if ok, err := pinned(att.NetNS); !ok || err != nil {
			t.Errorf("netns %s pinned = %v, %v", att.NetNS, ok, err)
		}
		ip := ipv4(t, att)
		if !netip.MustParsePrefix(testSubnet).Contains(ip) || ip == netip.MustParseAddr(testGateway) {
			t.Errorf("pod IP %s not a pod address in %s", ip, testSubnet)
		}
		if !att.Gateway.Equal(net.ParseIP(testGateway)) {
			t.Errorf("gateway = %v, want %s", att.Gateway, testGateway)
		}

		// The pod reaches the node through its gateway, and localhost works
		// inside it (the namespace's lo is up).
		serve(t, "", testGateway+":7000")
		if from, err := dial(att.NetNS, testGateway+":7000"); err != nil || from != ip.String() {
			t.Errorf("pod to gateway: %q, %v; want seen from %s", from, err, ip)
		}
		serve(t, att.NetNS, "127.0.0.1:7001")
		if _, err := dial(att.NetNS, "127.0.0.1:7001"); err != nil {
			t.Errorf("localhost in the pod: %v", err)
		}
		if uids, err := n.Pods(); err != nil || !slices.Equal(uids, []string{"uid-a"}) {
			t.Errorf("Pods = %v, %v; want [uid-a]", uids, err)
		}
		if err := n.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}

func TestSetupIsIdempotent(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		p := Pod{UID: "uid-a", Namespace: "ns", Name: "a", Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80}}}
		first := setup(t, n, p)
		again := setup(t, n, p)
		if ipv4(t, first) != ipv4(t, again) || first.NetNS != again.NetNS {
			t.Errorf("second Setup: %+v, first %+v", again, first)
		}
		// A restarted edgecore knows the pod's ports before the pod is set
		// up again: setting up another pod rebuilds the table with them.
		restarted := e.network(t)
		setup(t, restarted, Pod{UID: "uid-b", Namespace: "ns", Name: "b", Ports: []PortMapping{{HostPort: 8081, ContainerPort: 80}}})
		addNodeAddress(t, "192.0.2.1/24")
		serve(t, first.NetNS, "0.0.0.0:80")
		if _, err := dial("", "192.0.2.1:8080"); err != nil {
			t.Errorf("host port of a after restart, before its Setup: %v", err)
		}
		// Then it adopts the pod.
		adopted := setup(t, restarted, p)
		if ipv4(t, adopted) != ipv4(t, first) {
			t.Errorf("adopted with %v, was %v", adopted.IPs, first.IPs)
		}
		if got := e.cniCommands(t); got["ADD"] != 2 || got["CHECK"] != 2 || got["DEL"] != 0 {
			t.Errorf("bridge plugin runs = %v, want two ADDs (a, b), two CHECKs (a again), no DEL", got)
		}
	})
}

func TestSetupRepairsBrokenAttachment(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		p := Pod{UID: "uid-a", Namespace: "ns", Name: "a"}
		first := setup(t, n, p)
		// The pod's interface is gone: CHECK fails, the pod is attached
		// again in the same namespace.
		if err := inNetNS(first.NetNS, func() error { return deleteLink("eth0") }); err != nil {
			t.Fatal(err)
		}
		again := setup(t, n, p)
		if again.NetNS != first.NetNS {
			t.Errorf("namespace %s, was %s", again.NetNS, first.NetNS)
		}
		serve(t, "", testGateway+":7000")
		if _, err := dial(again.NetNS, testGateway+":7000"); err != nil {
			t.Errorf("pod to gateway after repair: %v", err)
		}
		if got := e.cniCommands(t); got["ADD"] != 2 || got["DEL"] != 1 {
			t.Errorf("bridge plugin runs = %v, want two ADDs and a DEL between", got)
		}
		if n := len(allocated(t, e)); n != 1 {
			t.Errorf("%d addresses allocated, want 1", n)
		}
	})
}

func TestSetupFailureLeavesNothing(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		p := Pod{UID: "uid-a", Namespace: "ns", Name: "a"}
		if err := os.WriteFile(e.failAdd, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Setup(context.Background(), p); err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("Setup = %v, want the plugin's failure", err)
		}
		if got := allocated(t, e); len(got) != 0 {
			t.Errorf("allocated after a failed Setup: %v", got)
		}
		if uids, err := n.Pods(); err != nil || len(uids) != 0 {
			t.Errorf("Pods after a failed Setup = %v, %v; want none", uids, err)
		}
		if err := os.Remove(e.failAdd); err != nil {
			t.Fatal(err)
		}
		setup(t, n, p)
	})
}

// allocated lists the addresses host-local holds.
func allocated(t *testing.T, e *testEnv) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.ipamDir, "edgegate"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var ips []string
	for _, entry := range entries {
		if _, err := netip.ParseAddr(entry.Name()); err == nil {
			ips = append(ips, entry.Name())
		}
	}
	return ips
}

func TestTeardown(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		n := e.network(t)
		a := setup(t, n, Pod{UID: "uid-a", Namespace: "ns", Name: "a"})
		b := setup(t, n, Pod{UID: "uid-b", Namespace: "ns", Name: "b"})
		if got := allocated(t, e); len(got) != 2 {
			t.Fatalf("allocated %v, want two addresses", got)
		}

		for i := range 2 {
			if err := n.Teardown(ctx, "uid-a"); err != nil {
				t.Fatalf("Teardown %d: %v", i+1, err)
			}
		}
		if got := allocated(t, e); !slices.Equal(got, []string{ipv4(t, b).String()}) {
			t.Errorf("allocated after Teardown of a: %v, want only b's %s", got, ipv4(t, b))
		}
		if _, err := os.Stat(a.NetNS); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns of a: %v, want it gone", err)
		}

		// b's namespace and libcni's cache vanish behind the package's
		// back: Teardown still releases its address.
		if err := removeNetNS(b.NetNS); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(e.cfg.CNICacheDir, "results")); err != nil {
			t.Fatal(err)
		}
		if err := n.Teardown(ctx, "uid-b"); err != nil {
			t.Fatalf("Teardown without netns and cache: %v", err)
		}
		if got := allocated(t, e); len(got) != 0 {
			t.Errorf("allocated after Teardown of b: %v", got)
		}
		if err := n.Teardown(ctx, "never-set-up"); err != nil {
			t.Errorf("Teardown of an unknown pod: %v", err)
		}
		if uids, err := n.Pods(); err != nil || len(uids) != 0 {
			t.Errorf("Pods = %v, %v; want none", uids, err)
		}
	})
}

// TestHostPorts runs on a bridge whose traffic does not go through
// netfilter, as on the device (br_netfilter is not loaded there).
func TestHostPorts(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		if err := bridgeNetfilter(false); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		testHostPorts(t, e)
	})
}

// TestHostPortsBridgeNetfilter runs where br_netfilter passes bridged
// traffic to netfilter (a kubelet host): a pod reaching itself through its
// host port then needs hairpin mode on its bridge port, as the kubelet's
// networks have.
func TestHostPortsBridgeNetfilter(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		if err := bridgeNetfilter(true); errors.Is(err, os.ErrNotExist) {
			t.Skip("no br_netfilter in this kernel")
		} else if err != nil {
			t.Fatal(err)
		}
		e.hairpin = true
		e.writeConfList(t)
		testHostPorts(t, e)
	})
}

// bridgeNetfilter turns br_netfilter's passing of bridged IPv4 to
// netfilter on or off in the current network namespace.
func bridgeNetfilter(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	return os.WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte(v), 0o644)
}

func testHostPorts(t *testing.T, e *testEnv) {
	{
		const node, lanNode, lanClient = "192.0.2.1", "198.51.100.1", "198.51.100.2"
		addNodeAddress(t, node+"/24")
		client := filepath.Join(e.cfg.NetNSDir, "client")
		addClient(t, client, lanNode+"/24", lanClient+"/24")
		n := e.network(t)
		web := setup(t, n, Pod{UID: "uid-web", Namespace: "ns", Name: "web", Ports: []PortMapping{
			{HostPort: 8080, ContainerPort: 80},
			{HostPort: 9090, ContainerPort: 80, HostIP: lanNode},
			{ContainerPort: 81}, // not published
		}})
		// init's table: masquerade out, forward only what it allows.
		if err := containerd.Masquerade(testSubnet, testBridge); err != nil {
			t.Fatal(err)
		}
		other := setup(t, n, Pod{UID: "uid-other", Namespace: "ns", Name: "other"})
		serve(t, web.NetNS, "0.0.0.0:80")
		webIP, otherIP := ipv4(t, web), ipv4(t, other)

		for _, tt := range []struct {
			name, from, to, seenFrom string
		}{
			{"neighbour to the node's LAN address", client, lanNode + ":8080", lanClient},
			{"neighbour to another node address", client, node + ":8080", lanClient},
			{"neighbour to the host IP", client, lanNode + ":9090", lanClient},
			{"node to its own address", "", node + ":8080", node},
			{"other pod, hairpin", other.NetNS, node + ":8080", testGateway},
			{"the pod itself, hairpin", web.NetNS, node + ":8080", testGateway},
			{"other pod straight to the pod", other.NetNS, webIP.String() + ":80", otherIP.String()},
		} {
			if from, err := dial(tt.from, tt.to); err != nil || from != tt.seenFrom {
				t.Errorf("%s (%s): seen from %q, %v; want %s", tt.name, tt.to, from, err, tt.seenFrom)
			}
		}
		for _, tt := range []struct{ name, from, to string }{
			{"host IP on another address", client, node + ":9090"},
			{"unpublished port", client, lanNode + ":81"},
			{"loopback is not published", "", "127.0.0.1:8080"},
		} {
			if _, err := dial(tt.from, tt.to); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("%s (%s): %v, want connection refused by the node", tt.name, tt.to, err)
			}
		}

		if err := n.Teardown(context.Background(), "uid-web"); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(client, lanNode+":8080"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("host port after Teardown: %v, want connection refused", err)
		}
	}
}

func TestHostPortConflict(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		setup(t, n, Pod{UID: "uid-a", Namespace: "ns", Name: "a", Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80}}})
		_, err := n.Setup(context.Background(), Pod{UID: "uid-b", Namespace: "ns", Name: "b",
			Ports: []PortMapping{{HostPort: 8080, ContainerPort: 81, HostIP: "192.0.2.1"}}})
		if err == nil || !strings.Contains(err.Error(), "ns/a (uid-a)") || !strings.Contains(err.Error(), "ns/b (uid-b)") {
			t.Fatalf("conflicting Setup = %v, want an error naming both pods", err)
		}
		if uids, err := n.Pods(); err != nil || !slices.Equal(uids, []string{"uid-a"}) {
			t.Errorf("Pods = %v, %v; want only uid-a (b refused before attaching)", uids, err)
		}
		// Same port on UDP is free; so is 8080 once a is gone.
		setup(t, n, Pod{UID: "uid-c", Namespace: "ns", Name: "c", Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "UDP"}}})
		if err := n.Teardown(context.Background(), "uid-a"); err != nil {
			t.Fatal(err)
		}
		setup(t, n, Pod{UID: "uid-b", Namespace: "ns", Name: "b", Ports: []PortMapping{{HostPort: 8080, ContainerPort: 81, HostIP: "192.0.2.1"}}})
	})
}

func TestReady(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		n := e.network(t)
		if err := n.Ready(); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		conflist := filepath.Join(e.cfg.CNIConfDir, "edgegate.conflist")
		if err := os.Rename(conflist, conflist+".off"); err != nil {
			t.Fatal(err)
		}
		if err := n.Ready(); err == nil || !strings.Contains(err.Error(), `"edgegate"`) {
			t.Errorf("Ready without the network list = %v, want an error naming it", err)
		}
		if _, err := n.Setup(context.Background(), Pod{UID: "uid-a"}); err == nil {
			t.Error("Setup without the network list: no error")
		}
		if err := os.WriteFile(conflist, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := n.Ready(); err == nil {
			t.Error("Ready with a list that does not parse: no error")
		}
		if err := os.Rename(conflist+".off", conflist); err != nil {
			t.Fatal(err)
		}
		for _, plugin := range []string{"bridge", "host-local"} {
			bin := filepath.Join(e.cfg.CNIBinDirs[0], plugin)
			if err := os.Rename(bin, bin+".off"); err != nil {
				t.Fatal(err)
			}
			if err := n.Ready(); err == nil || !strings.Contains(err.Error(), `"`+plugin+`"`) {
				t.Errorf("Ready without %s = %v, want an error naming it", plugin, err)
			}
			if err := os.Rename(bin+".off", bin); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Ready(); err != nil {
			t.Errorf("Ready with everything back: %v", err)
		}
	})
}

// TestHostPortTableFailure: a table the kernel refuses (its name is too
// long) fails the pods that publish ports, not the others or the node,
// and does not keep such a pod from being torn down.
func TestHostPortTableFailure(t *testing.T) {
	inNamespaces(t, func(t *testing.T, e *testEnv) {
		e.cfg.Table = strings.Repeat("t", 300)
		n := e.network(t)
		if err := n.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
		setup(t, n, Pod{UID: "uid-plain", Namespace: "ns", Name: "plain"})
		_, err := n.Setup(context.Background(), Pod{UID: "uid-web", Namespace: "ns", Name: "web",
			Ports: []PortMapping{{HostPort: 8080, ContainerPort: 80}}})
		if err == nil || !strings.Contains(err.Error(), "host ports") || !strings.Contains(err.Error(), "ns/web") {
			t.Fatalf("Setup with host ports = %v, want a host ports error naming the pod", err)
		}
		if err := n.Teardown(context.Background(), "uid-web"); err != nil {
			t.Fatalf("Teardown of the pod whose ports were never installed: %v", err)
		}
		if uids, err := n.Pods(); err != nil || !slices.Equal(uids, []string{"uid-plain"}) {
			t.Errorf("Pods = %v, %v; want [uid-plain]", uids, err)
		}
	})
}
