// Package netconf brings the appliance onto its network: loopback, then
// either a static address, gateway and DNS from the config or a DHCPv4
// lease (insomniacslk/dhcp nclient4) that is kept for as long as the device
// runs: renewed at T1, rebound from T2, given up at expiry, re-requested
// after the link goes down and comes back. Addresses and routes are set
// with netlink; /etc/resolv.conf is written atomically.
//
// How PID 1 uses it (cfg from init/config):
//
//	if err := netconf.LoopbackUp(); err != nil { … }
//	switch cfg.Network.Mode {
//	case config.ModeStatic:
//		summary, err := netconf.ApplyStatic(cfg.Network, "/etc/resolv.conf")
//		fmt.Println("net:", summary)           // "eth0 192.168.1.20/24 via 192.168.1.1 dns 192.168.1.1"
//	case config.ModeDHCP:
//		d := &netconf.DHCP{
//			Interface:  cfg.Network.Interface,
//			ResolvConf: "/etc/resolv.conf",
//			DNS:        dnsOverride,            // parsed cfg.Network.DNS, may be nil
//			Hostname:   cfg.Hostname,
//			OnEvent:    func(e netconf.Event) { fmt.Println(e) },
//		}
//		go d.Run(ctx)                           // first EventBound: the network is up
//	}
//
// /etc must be writable (a tmpfs, or resolv.conf a link into /run).
package netconf
