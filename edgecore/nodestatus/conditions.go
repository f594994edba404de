package nodestatus

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/dbm"
)

// The gateway's own conditions, in the manner of node-problem-detector's:
// always present, False with a reason while all is well, True with what
// went wrong. Neither touches Ready: the node still runs pods, but an
// operator must know.
const (
	// DataPartitionDegraded is True while /var runs on tmpfs because init
	// could not mount the data partition: nothing written survives a
	// reboot.
	DataPartitionDegraded v1.NodeConditionType = "DataPartitionDegraded"
	// FirewallDegraded is True while the gateway runs without its input
	// filter because init could not install it: every port is open.
	FirewallDegraded v1.NodeConditionType = "FirewallDegraded"
	// StoreReset is True for a while after edgecore found its store
	// corrupt, moved it aside and started with an empty one.
	StoreReset v1.NodeConditionType = "StoreReset"
)

// DefaultStoreResetFor is how long StoreReset stays True, counted from
// when the cloud first got it: long enough for an operator who looks once
// a day, or an alert on the condition, to see it, and counted that way so
// that a gateway offline at the time still reports it on reconnecting. It
// is not True for ever: the node works again once the cloud resent what it
// holds, and the moved-aside file stays named in the False message.
const DefaultStoreResetFor = 24 * time.Hour

func dataPartitionCondition(f Facts) v1.NodeCondition {
	return condition(DataPartitionDegraded, f.VarDegraded != "",
		"VarOnTmpfs", f.VarDegraded,
		"VarOnDataPartition", "/var is on the data partition")
}

func firewallCondition(f Facts) v1.NodeCondition {
	return condition(FirewallDegraded, f.FirewallDegraded != "",
		"FirewallNotInstalled", f.FirewallDegraded,
		"FirewallInstalled", "init reported no fault of the input filter")
}

// storeResetCondition reports the last store reset, r. The cloud's copy of
// the condition (in prev, the status it holds) says when it first got this
// reset as True, and that it already stopped reporting it; so a restart of
// edgecore neither repeats nor cuts short the report.
func storeResetCondition(r *dbm.Reset, prev *v1.NodeStatus, reportFor time.Duration, now time.Time) v1.NodeCondition {
	if r == nil {
		return condition(StoreReset, false, "", "", "StoreIntact", "edgecore's store opened intact")
	}
	active, past := storeResetMessage(r), pastStoreResetMessage(r, reportFor)
	if old := findCondition(prev, StoreReset); old != nil {
		done := old.Status == v1.ConditionFalse && old.Message == past
		expired := old.Status == v1.ConditionTrue && old.Message == active && now.Sub(old.LastTransitionTime.Time) >= reportFor
		if done || expired {
			return condition(StoreReset, false, "", "", "StoreIntact", past)
		}
	}
	return condition(StoreReset, true, "StoreCorrupt", active, "", "")
}

func storeResetMessage(r *dbm.Reset) string {
	return fmt.Sprintf("edgecore's store was corrupt (%s); it was moved to %s at %s and edgecore started with an empty store. "+
		"Pods the cloud had already delivered to this node come back only when they change there: restart their controllers or recreate them",
		r.Reason, r.MovedTo, r.At.UTC().Format(time.RFC3339))
}

func pastStoreResetMessage(r *dbm.Reset, reportFor time.Duration) string {
	return fmt.Sprintf("edgecore's store was last reset at %s (reported for %v; the corrupt store is kept as %s)",
		r.At.UTC().Format(time.RFC3339), reportFor, r.MovedTo)
}

// sameCondition reports whether c continues old, so that its
// lastTransitionTime stays: the same status and, for StoreReset, the same
// reset; for EdgegateUpdate, the same reason (Unknown is both an update in
// progress and a trial).
func sameCondition(old, c v1.NodeCondition) bool {
	return old.Status == c.Status && (c.Type != StoreReset || old.Message == c.Message) &&
		(c.Type != EdgegateUpdate || old.Reason == c.Reason)
}
