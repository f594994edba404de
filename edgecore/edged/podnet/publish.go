package podnet

import (
	"fmt"
	"maps"

	"k8s.io/klog/v2"
)

// publish makes the record's host ports the pod's share of the table and
// installs the table unless the kernel has them so already. Pods without
// host ports never wait on the table, and a table that cannot be installed
// fails only the pods that need it.
func (n *Network) publish(rec record) error {
	ms, err := n.ports.set(rec)
	if err != nil {
		return err
	}
	if n.ports.same(n.installed, rec.UID) && (len(ms) == 0 || !n.unsure) {
		return nil
	}
	if err := n.syncTable(); err != nil {
		return fmt.Errorf("%s: host ports: %w", rec.ref(), err)
	}
	if err := clearUDP(ms); err != nil {
		klog.Warningf("podnet: %s: %v", rec.ref(), err)
	}
	return nil
}

// unpublish takes the pod's ports out of the table. Rules of the pod that
// the kernel may hold must be gone before its address can go to another
// pod: when they cannot be, Teardown stops, to try again.
func (n *Network) unpublish(uid string) error {
	delete(n.ports, uid)
	if n.ports.same(n.installed, uid) {
		return nil
	}
	if err := n.syncTable(); err != nil {
		return fmt.Errorf("host ports: %w", err)
	}
	return nil
}

// syncTable installs the table from ports. The transaction is all or
// nothing, so on failure the kernel keeps what it had.
func (n *Network) syncTable() error {
	dnats, subnets := n.ports.rules()
	if err := installTable(n.cfg.Table, dnats, subnets); err != nil {
		return err
	}
	n.installed, n.unsure = maps.Clone(n.ports), false
	return nil
}
