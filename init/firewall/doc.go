// Package firewall is the gateway's own packet filter: what may reach the
// gateway itself (the input hook) and where containers may connect (the
// forward hook), one nftables table of family inet, installed by PID 1
// before the uplink comes up and replaced whole at every install. It
// speaks netlink directly: the image carries no nft or iptables program.
//
// Input, on every interface but loopback, accepts:
//   - replies and related packets (ct state established,related): the
//     cloud link, DNS, NTP, image pulls and every other connection the
//     gateway opens;
//   - the ICMP that networking needs (errors, and IPv6 neighbour and router
//     discovery and multicast listener messages) and echo requests, so a
//     gateway answers ping as any host on a LAN does;
//   - DHCPv4 server replies (UDP 67 to 68);
//   - the ports the configuration lists (firewall.allowInput), the device
//     API among them.
//
// and drops the rest, counted in three counters (unicast from the
// network, broadcast and multicast, anything from the pods' bridge).
//
// Published host ports need no input rule: edged DNATs them to the pod in
// prerouting, so they are forwarded, never delivered to the gateway;
// init/containerd's forward chain accepts them (ct status dnat). The pods
// need nothing of the gateway itself: their resolv.conf is the gateway's,
// naming the uplink's resolvers, so DNS is forwarded too.
//
// Forward, when firewall.egress is set, limits connections opened from the
// pods' bridge to those networks, the pod network itself, and DNS (UDP and
// TCP 53) to the gateway's current resolvers (the set "resolvers", which
// PID 1 updates as DHCP leases change them); replies, and connections to
// published ports, pass. The rest is dropped and counted.
package firewall
