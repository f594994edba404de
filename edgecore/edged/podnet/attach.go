package podnet

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"k8s.io/klog/v2"
)

// Setup gives the pod its namespace (edgegate-<uid> in NetNSDir), attaches
// it to the network and publishes its host ports. It repeats safely: a
// pod whose namespace is pinned and whose CNI result is cached and passes
// CHECK keeps its attachment, without a second ADD (this is how pods are
// adopted after a restart). A pod whose attachment fails CHECK is detached
// and attached again, which may change its address.
func (n *Network) Setup(ctx context.Context, p Pod) (Attachment, error) {
	if err := validUID(p.UID); err != nil {
		return Attachment{}, err
	}
	podRef := ref(p.UID, p.Namespace, p.Name)
	ms, err := parseMappings(podRef, p.Ports)
	if err != nil {
		return Attachment{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Checked before attaching: a pod that cannot run costs no address.
	if err := n.ports.conflict(p.UID, podRef, ms); err != nil {
		return Attachment{}, err
	}
	rec, err := n.attach(ctx, p)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s: %w", podRef, err)
	}
	if err := n.records.write(rec); err != nil {
		return Attachment{}, err
	}
	if err := n.publish(rec); err != nil {
		return Attachment{}, err
	}
	return rec.attachment(), nil
}

// attach pins the pod's namespace and attaches it, or adopts the
// attachment it has. A failed attempt releases what it got; a namespace
// it pinned goes too, one that was there stays (the pod's containers may
// be in it).
func (n *Network) attach(ctx context.Context, p Pod) (_ record, err error) {
	list, err := n.loadList()
	if err != nil {
		return record{}, err
	}
	path := n.netnsPath(p.UID)
	existed, err := pinned(path)
	if err != nil {
		return record{}, err
	}
	if !existed {
		if err := createNetNS(path); err != nil {
			return record{}, err
		}
		defer func() {
			if err != nil {
				err = errors.Join(err, removeNetNS(path))
			}
		}()
	}
	if err := loopbackUp(path); err != nil {
		return record{}, err
	}
	rt := runtimeConf(p.UID, p.Namespace, p.Name, path)
	if existed {
		if rec, ok := n.adopt(ctx, list, rt, p); ok {
			return rec, nil
		}
		if err := ctx.Err(); err != nil {
			return record{}, err
		}
		// Whatever an earlier attempt left (an address host-local holds
		// for this pod refuses a second one) goes first.
		if err := n.release(ctx, rt, list); err != nil {
			return record{}, fmt.Errorf("release the earlier attachment: %w", err)
		}
	}
	res, err := n.cni.AddNetworkList(ctx, list, rt)
	if err == nil {
		var rec record
		if rec, err = recordOf(p, path, res); err == nil {
			return rec, nil
		}
	} else {
		err = fmt.Errorf("CNI ADD to %q: %w", list.Name, err)
	}
	return record{}, errors.Join(err, n.release(context.WithoutCancel(ctx), rt, list))
}

// adopt returns the cached attachment when CHECK passes for it.
func (n *Network) adopt(ctx context.Context, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf, p Pod) (record, bool) {
	res, err := n.cni.GetNetworkListCachedResult(list, rt)
	if err != nil || res == nil {
		return record{}, false
	}
	if err := n.cni.CheckNetworkList(ctx, list, rt); err != nil {
		klog.Warningf("podnet: %s: network attachment fails CHECK, attaching again: %v",
			ref(p.UID, p.Namespace, p.Name), err)
		return record{}, false
	}
	rec, err := recordOf(p, rt.NetNS, res)
	return rec, err == nil
}

func recordOf(p Pod, netnsPath string, res types.Result) (record, error) {
	addrs, gw, err := addresses(res)
	if err != nil {
		return record{}, err
	}
	return record{UID: p.UID, Namespace: p.Namespace, Name: p.Name, NetNS: netnsPath,
		Addresses: addrs, Gateway: gw, Ports: p.Ports}, nil
}

// release runs CNI DEL for the pod, with the list and arguments it was
// added with when libcni has them cached, else with fallback. With
// neither, nothing is known to release.
func (n *Network) release(ctx context.Context, rt *libcni.RuntimeConf, fallback *libcni.NetworkConfigList) error {
	list, cachedRT := n.cachedList(rt)
	if list != nil {
		rt = cachedRT
	} else if list = fallback; list == nil {
		return nil
	}
	if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("CNI DEL from %q: %w", list.Name, err)
	}
	return nil
}

// Teardown unpublishes the pod's host ports, detaches it from the network
// (CNI DEL) and removes its namespace. It repeats safely, also when the
// namespace or libcni's cache is gone already.
func (n *Network) Teardown(ctx context.Context, uid string) error {
	if err := validUID(uid); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rec, _, err := n.records.read(uid)
	if err != nil {
		klog.Warningf("podnet: %v", err) // the record only names the pod
	}
	podRef := ref(uid, rec.Namespace, rec.Name)
	if err := n.unpublish(uid); err != nil {
		return fmt.Errorf("%s: %w", podRef, err)
	}
	path := n.netnsPath(uid)
	isPinned, err := pinned(path)
	if err != nil {
		return fmt.Errorf("%s: %w", podRef, err)
	}
	nsPath := ""
	if isPinned {
		nsPath = path
	}
	list, err := n.loadList()
	if err != nil {
		list = nil // DEL with the cached list, if there is one
	}
	if err := n.release(ctx, runtimeConf(uid, rec.Namespace, rec.Name, nsPath), list); err != nil {
		return fmt.Errorf("%s: %w", podRef, err)
	}
	if err := removeNetNS(path); err != nil {
		return fmt.Errorf("%s: %w", podRef, err)
	}
	return n.records.remove(uid)
}
