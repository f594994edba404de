package podnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// ifName is the pod's interface, as the kubelet named it.
const ifName = "eth0"

// portmapType is the plugin that would publish host ports if it were
// asked to; it is left out of every list (see withoutPortmap).
const portmapType = "portmap"

// loadList reads the network list named cfg.NetworkName from the conf dir.
func (n *Network) loadList() (*libcni.NetworkConfigList, error) {
	list, err := libcni.LoadConfList(n.cfg.CNIConfDir, n.cfg.NetworkName)
	if err != nil {
		return nil, fmt.Errorf("CNI network %q in %s: %w", n.cfg.NetworkName, n.cfg.CNIConfDir, err)
	}
	return withoutPortmap(list)
}

// cachedList is the network list the pod was added with, from libcni's
// cache, with the runtime arguments used then; nil when nothing usable is
// cached (a broken cache entry is libcni's DEL to clean up). Deleting
// with it undoes exactly what the ADD did, even if the list on disk
// changed since.
func (n *Network) cachedList(rt *libcni.RuntimeConf) (*libcni.NetworkConfigList, *libcni.RuntimeConf) {
	data, cachedRT, err := n.cni.GetNetworkListCachedConfig(&libcni.NetworkConfigList{Name: n.cfg.NetworkName}, rt)
	if err != nil || data == nil {
		return nil, nil
	}
	list, err := libcni.ConfListFromBytes(data)
	if err != nil {
		return nil, nil
	}
	if list, err = withoutPortmap(list); err != nil {
		return nil, nil
	}
	// The namespace is the caller's to say: it may be gone by now.
	cachedRT.NetNS = rt.NetNS
	return list, cachedRT
}

// withoutPortmap drops the portmap plugin: host ports are published here,
// and its nftables backend fails on the device even when it has nothing
// to do (its DEL always tears down chains).
func withoutPortmap(list *libcni.NetworkConfigList) (*libcni.NetworkConfigList, error) {
	kept := *list
	kept.Plugins = nil
	for _, p := range list.Plugins {
		if p.Network.Type != portmapType {
			kept.Plugins = append(kept.Plugins, p)
		}
	}
	if len(kept.Plugins) == 0 {
		return nil, fmt.Errorf("CNI network %q has no plugins but portmap", list.Name)
	}
	return &kept, nil
}

// runtimeConf is the CNI invocation for a pod: the CNI_ARGS the kubelet
// passed (IgnoreUnknown so plugins that know none of them do not fail),
// with the UID standing in for the sandbox container there is not.
func runtimeConf(uid, namespace, name, netnsPath string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: uid,
		NetNS:       netnsPath,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", namespace},
			{"K8S_POD_NAME", name},
			{"K8S_POD_INFRA_CONTAINER_ID", uid},
			{"K8S_POD_UID", uid},
		},
	}
}

// addresses are a CNI result's addresses on the pod's side (interfaces in
// a sandbox; all of them when the plugin names no interface) and the
// gateway of the first IPv4 one.
func addresses(res types.Result) ([]netip.Prefix, netip.Addr, error) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("CNI result: %w", err)
	}
	var (
		prefixes []netip.Prefix
		gateway  netip.Addr
	)
	for _, ip := range r.IPs {
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(r.Interfaces) &&
			r.Interfaces[*ip.Interface].Sandbox == "" {
			continue // the host's end of the link
		}
		p, ok := prefixOf(ip.Address)
		if !ok {
			return nil, netip.Addr{}, fmt.Errorf("CNI result: address %v", ip.Address)
		}
		prefixes = append(prefixes, p)
		if gw, ok := netip.AddrFromSlice(ip.Gateway); ok && !gateway.IsValid() && p.Addr().Is4() {
			gateway = gw.Unmap()
		}
	}
	if len(prefixes) == 0 {
		return nil, netip.Addr{}, errors.New("CNI result has no address for the pod")
	}
	return prefixes, gateway, nil
}

// prefixOf converts a CNI address; CNI keeps IPv4 addresses in 16 bytes
// with a 4-byte mask.
func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if !ok || bits == 0 {
		return netip.Prefix{}, false
	}
	if addr.Is4In6() && bits == 128 {
		ones -= 96
	}
	p := netip.PrefixFrom(addr.Unmap(), ones)
	return p, p.IsValid()
}
