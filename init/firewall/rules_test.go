package firewall

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/init/config"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestEgressNetworks(t *testing.T) {
	tests := []struct {
		name   string
		egress []netip.Prefix
		want   []netip.Prefix
	}{
		{"the pod network is always in", prefixes("192.168.1.0/24"), prefixes("10.88.0.0/16", "192.168.1.0/24")},
		{"contained networks go", prefixes("192.168.1.0/24", "192.168.0.0/16", "192.168.1.7/32"), prefixes("10.88.0.0/16", "192.168.0.0/16")},
		{"the pod network inside another", prefixes("10.0.0.0/8"), prefixes("10.0.0.0/8")},
		{"everything", prefixes("0.0.0.0/0", "172.16.0.0/12"), prefixes("0.0.0.0/0")},
		{"twice", prefixes("172.16.0.0/12", "172.16.0.0/12"), prefixes("172.16.0.0/12", "10.88.0.0/16")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Rules{PodSubnet: podSubnet, Egress: tt.egress}
			if got := r.egressNetworks(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("egressNetworks() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	r, err := FromConfig(config.Firewall{
		AllowInput: []config.InputPort{{Port: 8443, Protocol: "tcp"}, {Port: 5683, Protocol: "udp"}},
		Egress:     []string{"192.168.1.0/24"},
	}, "edge0", podSubnet)
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{Bridge: "edge0", PodSubnet: podSubnet, AllowInput: []Port{{"tcp", 8443}, {"udp", 5683}},
		Egress: prefixes("192.168.1.0/24")}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("FromConfig = %+v, want %+v", r, want)
	}
	if got := r.String(); got != "input open to replies, DHCP, ICMP and published host ports, tcp/8443, udp/5683; containers reach 192.168.1.0/24 and DNS only" {
		t.Errorf("summary: %s", got)
	}
	if got := (Rules{}).String(); !strings.HasSuffix(got, "containers reach every network") {
		t.Errorf("summary without egress: %s", got)
	}

	for _, bad := range []config.Firewall{
		{AllowInput: []config.InputPort{{Port: 53}}}, // no protocol: defaults were not applied
		{AllowInput: []config.InputPort{{Port: 0, Protocol: "udp"}}},
		{Egress: []string{"192.168.1.1/24"}},
	} {
		if _, err := FromConfig(bad, "edge0", podSubnet); err == nil || !strings.Contains(err.Error(), "firewall.") {
			t.Errorf("FromConfig(%+v): %v, want an error naming the field", bad, err)
		}
	}
}

func TestInstallRefusesBadRules(t *testing.T) {
	for _, r := range []Rules{
		{PodSubnet: podSubnet},
		{Bridge: "edge0"},
		{Bridge: "edge0", PodSubnet: podSubnet, AllowInput: []Port{{"sctp", 80}}},
		{Bridge: "edge0", PodSubnet: podSubnet, AllowInput: []Port{{"tcp", 0}}},
	} {
		if err := Install(r); err == nil {
			t.Errorf("Install(%+v) succeeded", r)
		}
	}
}
