package podspec

import (
	"bytes"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// hostnameMaxLen is the kernel's limit (64 bytes with the terminating NUL).
const hostnameMaxLen = 63

// Hostname returns the pod's hostname as kubelet computes it:
// spec.hostnameOverride when set (the HostnameOverride feature; the API
// server drops the field when the gate is off), else spec.hostname, else the
// pod's name; cut to 63 characters with any '-' or '.' left at the end
// removed.
func Hostname(pod *v1.Pod) string {
	name := pod.Name
	switch {
	case pod.Spec.HostnameOverride != nil:
		name = *pod.Spec.HostnameOverride
	case pod.Spec.Hostname != "":
		name = pod.Spec.Hostname
	}
	if len(name) <= hostnameMaxLen {
		return name
	}
	return strings.TrimRight(name[:hostnameMaxLen], "-.")
}

// hostDomain is the pod's DNS domain, "<subdomain>.<namespace>.svc.<cluster
// domain>", when it has a subdomain and no hostname override.
func hostDomain(pod *v1.Pod, clusterDomain string) string {
	if pod.Spec.Subdomain == "" || pod.Spec.HostnameOverride != nil {
		return ""
	}
	return fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
}

// EtcHostsContent returns the /etc/hosts kubelet writes for a pod on the pod
// network: its header, the localhost and IPv6 lines, one line per pod IP
// with the hostname (preceded by its FQDN when the pod has a subdomain), then
// the pod's hostAliases.
func EtcHostsContent(pod *v1.Pod, podIPs []string, clusterDomain string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	hostname := Hostname(pod)
	domain := hostDomain(pod, clusterDomain)
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	b.Write(hostAliasesContent(pod.Spec.HostAliases))
	return b.Bytes()
}

// NodeEtcHostsContent returns the /etc/hosts kubelet writes for a
// hostNetwork pod: the node's own hosts file under a header of its own, then
// the pod's hostAliases.
func NodeEtcHostsContent(nodeHosts []byte, pod *v1.Pod) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(nodeHosts)
	b.Write(hostAliasesContent(pod.Spec.HostAliases))
	return b.Bytes()
}

func hostAliasesContent(aliases []v1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}
