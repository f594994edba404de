package firewall

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Counts are the packets the firewall dropped since it was installed.
type Counts struct {
	// Input is unicast to the gateway from the network, Broadcast the
	// broadcast and multicast (a LAN's chatter), Pods what pods sent the
	// gateway itself.
	Input, Broadcast, Pods uint64
	// Egress is what pods sent towards networks outside firewall.egress.
	Egress uint64
}

func (c Counts) String() string {
	return fmt.Sprintf("%d packets to the gateway, %d from pods to the gateway, %d from pods outside egress (and %d broadcast or multicast)",
		c.Input, c.Pods, c.Egress, c.Broadcast)
}

// Read returns the drop counters of the installed firewall.
func Read() (Counts, error) {
	c, err := nftables.New()
	if err != nil {
		return Counts{}, fmt.Errorf("firewall: netlink: %w", err)
	}
	var n Counts
	fields := map[string]*uint64{
		counterInput: &n.Input, counterBroadcast: &n.Broadcast, counterPods: &n.Pods, counterEgress: &n.Egress,
	}
	for _, chain := range []string{inputChain, forwardChain} {
		rules, err := c.GetRules(table(), &nftables.Chain{Name: chain})
		if err != nil {
			return Counts{}, fmt.Errorf("firewall: read chain %s: %w", chain, err)
		}
		for _, r := range rules {
			comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if field, ok := fields[comment]; ok {
				*field = packets(r.Exprs)
			}
		}
	}
	return n, nil
}

// packets is the count of a rule's counter expression.
func packets(exprs []expr.Any) uint64 {
	for _, e := range exprs {
		if c, ok := e.(*expr.Counter); ok {
			return c.Packets
		}
	}
	return 0
}
