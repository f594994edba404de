// Package podnet gives each pod its own network namespace on the gateway's
// CNI bridge network and publishes the pods' host ports.
//
// There is no pause container: the namespace is made here and pinned by a
// bind mount of its nsfs file under Config.NetNSDir (/run/netns), the path
// the containers' OCI specs join. containerd runs in a mount namespace
// that is a propagation slave of that directory, so it sees the pins too.
// The namespace is attached with libcni, the way the kubelet's CNI code did
// it (the K8S_POD_* CNI_ARGS, interface eth0), and libcni's per-boot result
// cache is what lets a restarted edgecore adopt running pods without a
// second ADD.
//
// Host ports (a container port's hostPort) are not the portmap plugin's:
// its nftables backend does not work on the device and the image has no
// iptables program. They are DNAT rules in an nftables table of our own,
// written over netlink and rebuilt whole, in one transaction, from every
// pod's mappings whenever they change. The rules fit the table init
// installs (edgegate-containers): its forward chain accepts connections
// whose conntrack entry is destination-NATed. Connections to 127.0.0.1 are
// not published (that would need route_localnet on the bridge); a hostIP
// of loopback is refused.
package podnet
