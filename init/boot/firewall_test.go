package boot

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/containerd"
	"github.com/edgegate/edgegate/init/netconf"
)

func TestPodNetworkIsContainerds(t *testing.T) {
	if d := containerd.Default(); d.Bridge != podBridge || d.Subnet != podSubnet {
		t.Errorf("the firewall filters bridge %s, network %s; containerd's are %s, %s", podBridge, podSubnet, d.Bridge, d.Subnet)
	}
}

func TestResolvers(t *testing.T) {
	a, b := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("9.9.9.9")
	lease := netconf.Lease{DNS: []netip.Addr{a}}
	if got := resolvers(nil, lease); !slices.Equal(got, []netip.Addr{a}) {
		t.Errorf("without configured DNS: %v, want the lease's %v", got, a)
	}
	if got := resolvers(configuredDNS(config.Network{DNS: []string{"9.9.9.9"}}), lease); !slices.Equal(got, []netip.Addr{b}) {
		t.Errorf("with configured DNS: %v, want %v (it replaces the lease's in resolv.conf)", got, b)
	}
}
