package podnet

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
)

func TestWithoutPortmap(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		want    []string
		wantErr bool
	}{
		{
			name: "portmap dropped",
			conf: `{"cniVersion":"1.0.0","name":"edgegate","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"loopback"}]}`,
			want: []string{"bridge", "loopback"},
		},
		{
			name: "nothing to drop",
			conf: `{"cniVersion":"1.0.0","name":"edgegate","plugins":[{"type":"bridge"}]}`,
			want: []string{"bridge"},
		},
		{
			name:    "only portmap",
			conf:    `{"cniVersion":"1.0.0","name":"edgegate","plugins":[{"type":"portmap"}]}`,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := libcni.ConfListFromBytes([]byte(tt.conf))
			if err != nil {
				t.Fatal(err)
			}
			got, err := withoutPortmap(list)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, p := range got.Plugins {
				types = append(types, p.Network.Type)
			}
			if !slices.Equal(types, tt.want) {
				t.Errorf("plugins = %v, want %v", types, tt.want)
			}
			if len(list.Plugins) != strings.Count(tt.conf, `"type"`) {
				t.Error("the original list was changed")
			}
		})
	}
}

func TestRuntimeConfArgs(t *testing.T) {
	rt := runtimeConf("0d4f-uid", "default", "web", "/run/netns/edgegate-0d4f-uid")
	if rt.ContainerID != "0d4f-uid" || rt.IfName != "eth0" || rt.NetNS != "/run/netns/edgegate-0d4f-uid" {
		t.Errorf("runtime conf = %+v", rt)
	}
	args := map[string]string{}
	for _, a := range rt.Args {
		args[a[0]] = a[1]
	}
	want := map[string]string{"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "web",
		"K8S_POD_INFRA_CONTAINER_ID": "0d4f-uid", "K8S_POD_UID": "0d4f-uid"}
	for k, v := range want {
		if args[k] != v {
			t.Errorf("CNI_ARGS %s = %q, want %q", k, args[k], v)
		}
	}
	if len(rt.CapabilityArgs) != 0 {
		t.Errorf("capability args %v: portmap would be asked to publish", rt.CapabilityArgs)
	}
}

func TestAddresses(t *testing.T) {
	idx := func(i int) *int { return &i }
	cidr := func(s string) net.IPNet {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip // CNI keeps IPv4 in 16 bytes, as here
		return *n
	}
	tests := []struct {
		name    string
		result  *current.Result
		want    []string
		gateway string
		wantErr bool
	}{
		{
			name: "bridge: the sandbox side only",
			result: &current.Result{
				CNIVersion: "1.0.0",
				Interfaces: []*current.Interface{{Name: "edge0"}, {Name: "veth1"}, {Name: "eth0", Sandbox: "/run/netns/x"}},
				IPs: []*current.IPConfig{
					{Interface: idx(0), Address: cidr("10.88.0.1/16")},
					{Interface: idx(2), Address: cidr("10.88.0.7/16"), Gateway: net.ParseIP("10.88.0.1")},
				},
			},
			want: []string{"10.88.0.7/16"}, gateway: "10.88.0.1",
		},
		{
			name: "no interface named",
			result: &current.Result{CNIVersion: "1.0.0", IPs: []*current.IPConfig{
				{Address: cidr("fd00::7/64"), Gateway: net.ParseIP("fd00::1")},
				{Address: cidr("10.88.0.7/16"), Gateway: net.ParseIP("10.88.0.1")},
			}},
			want: []string{"fd00::7/64", "10.88.0.7/16"}, gateway: "10.88.0.1",
		},
		{
			name:    "no address",
			result:  &current.Result{CNIVersion: "1.0.0", Interfaces: []*current.Interface{{Name: "eth0", Sandbox: "x"}}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, gw, err := addresses(tt.result)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("addresses = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !slices.Equal(s, tt.want) {
				t.Errorf("addresses = %v, want %v", s, tt.want)
			}
			if gw != netip.MustParseAddr(tt.gateway) {
				t.Errorf("gateway = %v, want %s", gw, tt.gateway)
			}
		})
	}
}
