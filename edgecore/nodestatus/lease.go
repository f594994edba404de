package nodestatus

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// leaseKeeper renews the node's Lease in kube-node-lease as the kubelet's
// lease controller does: get it (create it when missing), then update the
// copy the cloud last returned, carrying its resourceVersion; on a
// conflict or a vanished lease, start over from a fresh get.
type leaseKeeper struct {
	client   client
	node     string
	duration time.Duration
	latest   *coordinationv1.Lease // nil: not known, get it first
}

func (l *leaseKeeper) resource() string {
	return model.BuildResource(model.NodeLeaseNamespace, model.ResourceTypeLease, l.node)
}

// renew renews the lease once. owner is the registered node, made the
// lease's owner so that deleting the node deletes its lease.
func (l *leaseKeeper) renew(owner *v1.Node, now time.Time) error {
	if l.latest == nil {
		created, err := l.ensure(owner, now)
		if err != nil || created {
			return err
		}
	}
	err := l.update(owner, now)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		// Someone else wrote the lease, or it was deleted: resync from
		// the cloud and try once more, as the kubelet does.
		l.latest = nil
		if created, err := l.ensure(owner, now); err != nil || created {
			return err
		}
		err = l.update(owner, now)
	}
	return err
}

// ensure gets the lease, creating it when the cloud has none. created says
// the lease was just created (and so renewed).
func (l *leaseKeeper) ensure(owner *v1.Node, now time.Time) (created bool, err error) {
	got := &coordinationv1.Lease{}
	err = l.client.do(l.resource(), model.QueryOperation, nil, got)
	switch {
	case err == nil && got.Name != "":
		l.latest = got
		return false, nil
	case err == nil, apierrors.IsNotFound(err):
		fresh := l.fill(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.node, Namespace: model.NodeLeaseNamespace}}, owner, now)
		made := &coordinationv1.Lease{}
		if err := l.client.do(l.resource(), model.InsertOperation, fresh, made); err != nil {
			return false, fmt.Errorf("create lease: %w", err)
		}
		l.latest = made
		return true, nil
	default:
		return false, fmt.Errorf("get lease: %w", err)
	}
}

func (l *leaseKeeper) update(owner *v1.Node, now time.Time) error {
	lease := l.fill(l.latest.DeepCopy(), owner, now)
	updated := &coordinationv1.Lease{}
	if err := l.client.do(l.resource(), model.UpdateOperation, lease, updated); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	l.latest = updated
	return nil
}

// fill sets what the kubelet sets on every renewal.
func (l *leaseKeeper) fill(lease *coordinationv1.Lease, owner *v1.Node, now time.Time) *coordinationv1.Lease {
	holder := l.node
	seconds := int32(l.duration / time.Second)
	renew := metav1.NewMicroTime(now)
	lease.Spec.HolderIdentity = &holder
	lease.Spec.LeaseDurationSeconds = &seconds
	lease.Spec.RenewTime = &renew
	if owner != nil && owner.UID != "" && len(lease.OwnerReferences) == 0 {
		lease.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: owner.Name, UID: owner.UID,
		}}
	}
	return lease
}
