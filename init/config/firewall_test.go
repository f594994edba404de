package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseFirewall(t *testing.T) {
	c, err := Parse([]byte(`
firewall:
  allowInput: [{port: 8443}, {port: 5683, protocol: udp}]
  egress: [192.168.1.0/24, 10.20.30.40/32]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Firewall{
		AllowInput: []InputPort{{Port: 8443, Protocol: ProtocolTCP}, {Port: 5683, Protocol: ProtocolUDP}},
		Egress:     []string{"192.168.1.0/24", "10.20.30.40/32"},
	}
	if !reflect.DeepEqual(c.Firewall, want) {
		t.Errorf("firewall = %+v, want %+v (protocol defaults to tcp)", c.Firewall, want)
	}
	if d := Default().Firewall; len(d.AllowInput) != 0 || len(d.Egress) != 0 {
		t.Errorf("the default opens ports or limits egress: %+v", d)
	}
}

func TestParseFirewallRejects(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"protocol", "firewall: {allowInput: [{port: 80, protocol: icmp}]}", `firewall.allowInput[0].protocol: "icmp" is not one of tcp, udp`},
		{"port zero", "firewall: {allowInput: [{protocol: udp}]}", "firewall.allowInput[0].port: 0 is outside 1..65535"},
		{"port too big", "firewall: {allowInput: [{port: 70000}]}", "firewall.allowInput[0].port: 70000 is outside 1..65535"},
		{"twice", "firewall: {allowInput: [{port: 80}, {port: 80, protocol: tcp}]}", "firewall.allowInput[1]: tcp/80 is already listed by firewall.allowInput[0]"},
		{"unknown field", "firewall: {allowInput: [{port: 80, from: lan}]}", `unknown field "from"`},
		{"egress not cidr", "firewall: {egress: [192.168.1.10]}", `firewall.egress[0]: "192.168.1.10" is not a network in CIDR form`},
		{"egress ipv6", "firewall: {egress: [\"2001:db8::/32\"]}", `firewall.egress[0]: "2001:db8::/32" is not IPv4`},
		{"egress host bits", "firewall: {egress: [10.0.0.0/8, 192.168.1.7/24]}", `firewall.egress[1]: "192.168.1.7/24" has host bits set (the network is 192.168.1.0/24)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseEgress(t *testing.T) {
	for in, want := range map[string]netip.Prefix{
		"0.0.0.0/0":       netip.MustParsePrefix("0.0.0.0/0"),
		"172.16.0.0/12":   netip.MustParsePrefix("172.16.0.0/12"),
		"192.168.1.10/32": netip.MustParsePrefix("192.168.1.10/32"),
	} {
		if got, err := ParseEgress(in); err != nil || got != want {
			t.Errorf("ParseEgress(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
