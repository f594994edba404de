package podstatus

import (
	"net/netip"

	v1 "k8s.io/api/core/v1"
)

// setIPs fills hostIP(s) and podIP(s) as kubelet does: at most one IP of
// each family, the node's primary family first; a host-network pod has
// the node's IPs.
func setIPs(s *v1.PodStatus, p *Pod) {
	hostIPs := dualStack(p.HostIPs, ipv6(p.HostIPs))
	for _, ip := range hostIPs {
		s.HostIPs = append(s.HostIPs, v1.HostIP{IP: ip})
	}
	podIPs := dualStack(p.PodIPs, ipv6(hostIPs))
	if p.Pod.Spec.HostNetwork && len(podIPs) == 0 {
		podIPs = hostIPs
	}
	for _, ip := range podIPs {
		s.PodIPs = append(s.PodIPs, v1.PodIP{IP: ip})
	}
	if len(hostIPs) > 0 {
		s.HostIP = hostIPs[0]
	}
	if len(podIPs) > 0 {
		s.PodIP = podIPs[0]
	}
}

// dualStack picks the first valid IP of the preferred family, then the
// first of the other one (kubelet's sortPodIPs).
func dualStack(ips []string, preferV6 bool) []string {
	var out []string
	for _, v6 := range []bool{preferV6, !preferV6} {
		for _, s := range ips {
			if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is6() == v6 {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// ipv6 says whether the first of ips is IPv6: that family is preferred.
// Without a (valid) node IP kubelet prefers IPv4.
func ipv6(ips []string) bool {
	if len(ips) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ips[0])
	return err == nil && a.Unmap().Is6()
}
