package podnet

import (
	"maps"
	"net/netip"
	"strings"
	"testing"
)

func TestParseMappings(t *testing.T) {
	tests := []struct {
		name    string
		ports   []PortMapping
		want    []mapping
		wantErr string
	}{
		{name: "none"},
		{
			name:  "container port only publishes nothing",
			ports: []PortMapping{{ContainerPort: 80}},
		},
		{
			name:  "protocol defaults to TCP, every address",
			ports: []PortMapping{{HostPort: 8080, ContainerPort: 80}},
			want:  []mapping{{protocol: "TCP", hostPort: 8080, port: 80}},
		},
		{
			name:  "unspecified host IP is every address",
			ports: []PortMapping{{HostPort: 53, ContainerPort: 5353, Protocol: "UDP", HostIP: "0.0.0.0"}},
			want:  []mapping{{protocol: "UDP", hostPort: 53, port: 5353}},
		},
		{
			name:  "host IP",
			ports: []PortMapping{{HostPort: 9000, ContainerPort: 9000, Protocol: "SCTP", HostIP: "192.0.2.7"}},
			want:  []mapping{{protocol: "SCTP", hostIP: netip.MustParseAddr("192.0.2.7"), hostPort: 9000, port: 9000}},
		},
		{
			name: "same port on two protocols",
			ports: []PortMapping{
				{HostPort: 53, ContainerPort: 53, Protocol: "TCP"},
				{HostPort: 53, ContainerPort: 53, Protocol: "UDP"},
			},
			want: []mapping{{protocol: "TCP", hostPort: 53, port: 53}, {protocol: "UDP", hostPort: 53, port: 53}},
		},
		{
			name: "same port on two addresses",
			ports: []PortMapping{
				{HostPort: 80, ContainerPort: 80, HostIP: "192.0.2.1"},
				{HostPort: 80, ContainerPort: 81, HostIP: "192.0.2.2"},
			},
			want: []mapping{
				{protocol: "TCP", hostIP: netip.MustParseAddr("192.0.2.1"), hostPort: 80, port: 80},
				{protocol: "TCP", hostIP: netip.MustParseAddr("192.0.2.2"), hostPort: 80, port: 81},
			},
		},
		{
			name:    "lower-case protocol",
			ports:   []PortMapping{{HostPort: 80, ContainerPort: 80, Protocol: "tcp"}},
			wantErr: `protocol "tcp"`,
		},
		{
			name:    "host port out of range",
			ports:   []PortMapping{{HostPort: 70000, ContainerPort: 80}},
			wantErr: "host port 70000: out of range",
		},
		{
			name:    "no container port",
			ports:   []PortMapping{{HostPort: 8080}},
			wantErr: "container port 0",
		},
		{
			name:    "loopback host IP",
			ports:   []PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "127.0.0.1"}},
			wantErr: "route_localnet",
		},
		{
			name:    "IPv6 host IP",
			ports:   []PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "2001:db8::1"}},
			wantErr: "only IPv4",
		},
		{
			name:    "bad host IP",
			ports:   []PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "gateway"}},
			wantErr: "host IP",
		},
		{
			name: "published twice",
			ports: []PortMapping{
				{HostPort: 8080, ContainerPort: 80},
				{HostPort: 8080, ContainerPort: 81, HostIP: "192.0.2.1"},
			},
			wantErr: "published twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMappings("pod ns/a (uid-a)", tt.ports)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "ns/a") {
					t.Fatalf("error = %v, want one naming the pod and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("mappings = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("mapping %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func mustMappings(t *testing.T, ports ...PortMapping) []mapping {
	t.Helper()
	ms, err := parseMappings("test pod", ports)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestPortTableConflict(t *testing.T) {
	table := portTable{
		"uid-a": {ref: "pod ns/a (uid-a)", mappings: mustMappings(t, PortMapping{HostPort: 8080, ContainerPort: 80})},
		"uid-b": {ref: "pod ns/b (uid-b)", mappings: mustMappings(t,
			PortMapping{HostPort: 9090, ContainerPort: 80, HostIP: "192.0.2.1"})},
	}
	tests := []struct {
		name      string
		uid       string
		ports     []PortMapping
		conflicts string // the pod in the way; empty: none
	}{
		{"free port", "uid-c", []PortMapping{{HostPort: 8081, ContainerPort: 80}}, ""},
		{"same port, every address", "uid-c", []PortMapping{{HostPort: 8080, ContainerPort: 80}}, "ns/a"},
		{"same port, other protocol", "uid-c", []PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "UDP"}}, ""},
		{"one address of every address", "uid-c", []PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "192.0.2.9"}}, "ns/a"},
		{"every address over one address", "uid-c", []PortMapping{{HostPort: 9090, ContainerPort: 80}}, "ns/b"},
		{"same address", "uid-c", []PortMapping{{HostPort: 9090, ContainerPort: 80, HostIP: "192.0.2.1"}}, "ns/b"},
		{"other address", "uid-c", []PortMapping{{HostPort: 9090, ContainerPort: 80, HostIP: "192.0.2.2"}}, ""},
		{"the pod itself again", "uid-a", []PortMapping{{HostPort: 8080, ContainerPort: 80}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := table.conflict(tt.uid, "pod ns/c (uid-c)", mustMappings(t, tt.ports...))
			if tt.conflicts == "" {
				if err != nil {
					t.Fatalf("conflict: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.conflicts) || !strings.Contains(err.Error(), "ns/c") {
				t.Fatalf("conflict = %v, want an error naming ns/c and %s", err, tt.conflicts)
			}
		})
	}
}

func TestPortTableSetAndRules(t *testing.T) {
	rec := func(uid, addr string, ports ...PortMapping) record {
		return record{UID: uid, Namespace: "ns", Name: uid, Addresses: []netip.Prefix{netip.MustParsePrefix(addr)}, Ports: ports}
	}
	table := portTable{}
	// set reports whether setting r changed the pod's share of the table.
	set := func(r record) bool {
		t.Helper()
		before := maps.Clone(table)
		if _, err := table.set(r); err != nil {
			t.Fatal(err)
		}
		return !table.same(before, r.UID)
	}
	if !set(rec("b", "10.88.0.3/16", PortMapping{HostPort: 81, ContainerPort: 80})) {
		t.Error("adding pod b: not a change")
	}
	if !set(rec("a", "10.88.0.2/16", PortMapping{HostPort: 80, ContainerPort: 8080}, PortMapping{HostPort: 53, ContainerPort: 53, Protocol: "UDP"})) {
		t.Error("adding pod a: not a change")
	}
	if set(rec("a", "10.88.0.2/16", PortMapping{HostPort: 80, ContainerPort: 8080}, PortMapping{HostPort: 53, ContainerPort: 53, Protocol: "UDP"})) {
		t.Error("setting pod a again: a change")
	}
	if set(rec("c", "10.89.0.2/16")) {
		t.Error("pod c without ports: a change")
	}
	if !set(rec("b", "10.88.0.4/16", PortMapping{HostPort: 81, ContainerPort: 80})) {
		t.Error("pod b on a new address: not a change")
	}
	dnats, subnets := table.rules()
	want := []struct {
		proto  string
		host   uint16
		target string
	}{{"TCP", 80, "10.88.0.2:8080"}, {"UDP", 53, "10.88.0.2:53"}, {"TCP", 81, "10.88.0.4:80"}}
	if len(dnats) != len(want) {
		t.Fatalf("rules = %v, want %v", dnats, want)
	}
	for i, w := range want {
		d := dnats[i]
		if d.protocol != w.proto || d.hostPort != w.host || netip.AddrPortFrom(d.podIP, d.port).String() != w.target {
			t.Errorf("rule %d = %s to %s:%d, want %s %d to %s", i, d.mapping, d.podIP, d.port, w.proto, w.host, w.target)
		}
	}
	if len(subnets) != 1 || subnets[0] != netip.MustParsePrefix("10.88.0.0/16") {
		t.Errorf("hairpin subnets = %v, want [10.88.0.0/16]", subnets)
	}
	if !set(rec("a", "10.88.0.2/16")) {
		t.Error("pod a dropping its ports: not a change")
	}
	if _, ok := table["a"]; ok {
		t.Error("pod a without ports is still in the table")
	}
}

func TestPortTableSetNeedsIPv4(t *testing.T) {
	r := record{UID: "v6", Addresses: []netip.Prefix{netip.MustParsePrefix("fd00::2/64")},
		Ports: []PortMapping{{HostPort: 80, ContainerPort: 80}}}
	if _, err := (portTable{}).set(r); err == nil || !strings.Contains(err.Error(), "IPv4") {
		t.Fatalf("set = %v, want an error about IPv4", err)
	}
}
