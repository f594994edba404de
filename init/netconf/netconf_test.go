package netconf

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"

	"github.com/edgegate/edgegate/init/config"
)

func ack(t *testing.T, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 0, 2, 15)),
	}
	m, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLeaseFromACK(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	qemu := []dhcpv4.Modifier{
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(10, 0, 2, 2)),
		dhcpv4.WithDNS(net.IPv4(10, 0, 2, 3)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 0, 2, 2))),
		dhcpv4.WithLeaseTime(86400),
	}
	tests := []struct {
		name    string
		mods    []dhcpv4.Modifier
		summary string
		want    func(Lease) bool
		wantErr string
	}{
		{"qemu user network", qemu, "eth0 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3", func(l Lease) bool {
			return l.Duration == 24*time.Hour && l.Server == netip.MustParseAddr("10.0.2.2") && l.Obtained.Equal(at)
		}, ""},
		{"timers kept", append(qemu[:len(qemu):len(qemu)],
			dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(600*time.Second)),
			dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(900*time.Second))), "", func(l Lease) bool {
			return l.T1 == 10*time.Minute && l.T2 == 15*time.Minute
		}, ""},
		{"no router, no dns, class mask", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(60)}, "eth0 10.0.2.15/8", nil, ""},
		{"domain search", append(qemu[:len(qemu):len(qemu)], dhcpv4.WithOption(dhcpv4.OptDomainSearch(&rfc1035label.Labels{Labels: []string{"lan", "corp.example"}}))), "",
			func(l Lease) bool { return strings.Join(l.Search, " ") == "lan corp.example" }, ""},
		{"domain name as search", append(qemu[:len(qemu):len(qemu)], dhcpv4.WithOption(dhcpv4.OptDomainName("site.example"))), "",
			func(l Lease) bool { return len(l.Search) == 1 && l.Search[0] == "site.example" }, ""},
		{"infinite lease", []dhcpv4.Modifier{dhcpv4.WithLeaseTime(0xffffffff)}, "", func(l Lease) bool { return l.Duration == 0 && l.Plan() == (Timers{}) }, ""},
		{"no lease time", nil, "", nil, "without a lease time"},
		{"no address", []dhcpv4.Modifier{dhcpv4.WithYourIP(net.IPv4zero), dhcpv4.WithLeaseTime(60)}, "", nil, "without an address"},
		{"not an ack", []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeNak)}, "", nil, "not an ACK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LeaseFromACK(ack(t, tt.mods...), at)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.summary != "" && l.Summary("eth0") != tt.summary {
				t.Fatalf("summary %q, want %q", l.Summary("eth0"), tt.summary)
			}
			if tt.want != nil && !tt.want(l) {
				t.Fatalf("lease %+v", l)
			}
		})
	}
	if _, err := LeaseFromACK(nil, at); err == nil {
		t.Fatal("nil ACK accepted")
	}
}

func TestPlan(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name      string
		d, t1, t2 time.Duration
		want      Timers
	}{
		{"defaults", 8 * h, 0, 0, Timers{4 * h, 7 * h, 8 * h}},
		{"server values", 8 * h, 2 * h, 6 * h, Timers{2 * h, 6 * h, 8 * h}},
		{"t2 past lease", 8 * h, 2 * h, 9 * h, Timers{2 * h, 7 * h, 8 * h}},
		{"t1 after t2", 8 * h, 7 * h, 5 * h, Timers{4 * h, 5 * h, 8 * h}},
		{"t1 equal default t2 falls back below it", 8 * h, 0, 3 * h, Timers{90 * time.Minute, 3 * h, 8 * h}},
		{"short test lease", 6 * time.Second, 0, 0, Timers{3 * time.Second, 5250 * time.Millisecond, 6 * time.Second}},
		{"infinite", 0, 5, 6, Timers{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lease{Duration: tt.d, T1: tt.t1, T2: tt.t2}.Plan()
			if got != tt.want {
				t.Fatalf("Plan = %+v, want %+v", got, tt.want)
			}
			if got.Expiry != 0 && !(got.T1 < got.T2 && got.T2 < got.Expiry) {
				t.Fatalf("Plan %+v is not T1 < T2 < lease", got)
			}
		})
	}
}

func TestRetryIn(t *testing.T) {
	tests := []struct{ remaining, want time.Duration }{
		{0, 0},
		{-time.Second, 0},
		{30 * time.Second, 30 * time.Second}, // never past the deadline
		{90 * time.Second, time.Minute},      // at least a minute
		{4 * time.Hour, 2 * time.Hour},       // half the rest
	}
	for _, tt := range tests {
		if got := RetryIn(tt.remaining); got != tt.want {
			t.Errorf("RetryIn(%v) = %v, want %v", tt.remaining, got, tt.want)
		}
	}
}

func TestRenderResolvConf(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name   string
		dns    []netip.Addr
		search []string
		want   string
	}{
		{"none", nil, nil, "# written by edgegate init\n"},
		{"one", []netip.Addr{a("10.0.2.3")}, nil, "# written by edgegate init\nnameserver 10.0.2.3\n"},
		{"search and v6", []netip.Addr{a("10.0.2.3"), a("fd00::3")}, []string{"lan", "example"},
			"# written by edgegate init\nsearch lan example\nnameserver 10.0.2.3\nnameserver fd00::3\n"},
		{"at most three", []netip.Addr{a("1.1.1.1"), a("2.2.2.2"), a("3.3.3.3"), a("4.4.4.4")}, nil,
			"# written by edgegate init\nnameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"},
	}
	for _, tt := range tests {
		if got := string(RenderResolvConf(tt.dns, tt.search)); got != tt.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestStaticLease(t *testing.T) {
	l, err := StaticLease(config.Network{Interface: "eth0", Mode: config.ModeStatic, Address: "192.168.7.20/24", Gateway: "192.168.7.1", DNS: []string{"192.168.7.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Summary("eth0"); got != "eth0 192.168.7.20/24 via 192.168.7.1 dns 192.168.7.1" {
		t.Fatalf("summary %q", got)
	}
	if l.Plan() != (Timers{}) {
		t.Fatal("a static address must never expire")
	}
	if _, err := StaticLease(config.Network{Address: "192.168.7.20"}); err == nil || !strings.Contains(err.Error(), "network.address") {
		t.Fatalf("err = %v", err)
	}
}

func TestEventLines(t *testing.T) {
	l := Lease{Address: netip.MustParsePrefix("10.0.2.15/24"), Gateway: netip.MustParseAddr("10.0.2.2"), Duration: time.Hour}
	if got := (Event{Kind: EventBound, Iface: "eth0", Lease: l}).String(); got != "net: eth0 10.0.2.15/24 via 10.0.2.2 (dhcp bound, lease 1h0m0s)" {
		t.Fatalf("%q", got)
	}
	if got := (Event{Kind: EventLinkDown, Iface: "eth0"}).String(); got != "net: eth0 link down" {
		t.Fatalf("%q", got)
	}
}
