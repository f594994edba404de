package metamanager

import (
	"encoding/json"
	"strconv"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// cloudcore resends every message it has not seen acked (every 5 s, and
// again after a reconnect), and synccontroller may send an object the edge
// already has. The checks here make each change apply once: a message whose
// resourceVersion is not newer than the stored object's is acked again but
// neither stored nor forwarded.

// resourceVersionOf returns the object's version: the header's, or
// metadata.resourceVersion of the content.
func resourceVersionOf(msg *model.Message) string {
	if msg.Header.ResourceVersion != "" {
		return msg.Header.ResourceVersion
	}
	data, err := msg.ContentData()
	if err != nil {
		return ""
	}
	return storedVersion(string(data))
}

// storedVersion reads metadata.resourceVersion from a stored object.
func storedVersion(value string) string {
	var obj struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if json.Unmarshal([]byte(value), &obj) != nil {
		return ""
	}
	return obj.Metadata.ResourceVersion
}

// notNewer reports whether version in is not newer than stored. Kubernetes
// versions are opaque strings that etcd makes decimal integers; compare
// those as numbers, anything else only for equality.
func notNewer(in, stored string) bool {
	if in == "" || stored == "" {
		return false
	}
	a, errA := strconv.ParseUint(in, 10, 64)
	b, errB := strconv.ParseUint(stored, 10, 64)
	if errA != nil || errB != nil {
		return in == stored
	}
	return a <= b
}

// upsertApplied reports whether a cloud insert/update is already reflected
// in the store, so it must only be acked.
func (m *MetaManager) upsertApplied(msg *model.Message) bool {
	in := resourceVersionOf(msg)
	if in == "" {
		return false
	}
	row, ok, err := m.store.Get(msg.Resource())
	if err != nil || !ok {
		return false
	}
	stored := storedVersion(row.Value)
	if !notNewer(in, stored) {
		return false
	}
	klog.Infof("metamanager: %s %s at resourceVersion %s already applied (stored %s); acking only (message %s)",
		msg.Operation(), msg.Resource(), in, stored, msg.ID())
	m.duplicates.Add(1)
	return true
}

// deleteApplied reports whether a cloud delete has nothing left to do
// because the row is already gone. (A pod row with another UID is a
// recreated pod: cloudDelete spares it and still forwards, as KubeEdge.)
func (m *MetaManager) deleteApplied(msg *model.Message) bool {
	_, ok, err := m.store.Get(msg.Resource())
	if err != nil || ok {
		return false
	}
	klog.Infof("metamanager: delete %s already applied (message %s); acking only", msg.Resource(), msg.ID())
	m.duplicates.Add(1)
	return true
}

// Duplicates counts cloud messages acked without being applied again.
func (m *MetaManager) Duplicates() uint64 { return m.duplicates.Load() }

// resyncTypes are objects cloudcore pushes only to nodes it remembers using
// them; after a reconnect (possibly to a restarted cloudcore) edgecore asks
// for them again so changes made meanwhile arrive.
var resyncTypes = []string{model.ResourceTypeConfigmap, model.ResourceTypeSecret}

// resync refreshes the stored configmaps and secrets from the cloud after
// the link comes back. It runs beside the message loop.
func (m *MetaManager) resync() {
	m.remote.Add(1)
	go func() {
		defer m.remote.Done()
		updated := 0
		for _, typ := range resyncTypes {
			rows, err := m.store.ListByType(typ)
			if err != nil {
				klog.Errorf("metamanager: resync %s: %v", typ, err)
				continue
			}
			for _, row := range rows {
				if !m.Connected() {
					return
				}
				if m.refresh(row) {
					updated++
				}
			}
		}
		if updated > 0 {
			klog.Infof("metamanager: resync after reconnect updated %d objects", updated)
		}
	}()
}

// refresh queries the cloud for one stored object and stores a newer copy.
func (m *MetaManager) refresh(row Meta) bool {
	q := model.NewMessage("").BuildRouter(model.MetaManagerModuleName, model.MetaGroup, row.Key, model.QueryOperation)
	resp, err := m.bus.SendSync(m.cfg.ContextSendModule, *q, min(m.cfg.RemoteQueryTimeout, 10*time.Second))
	if err != nil {
		klog.V(2).Infof("metamanager: resync %s: %v", row.Key, err)
		return false
	}
	m.ackCloud(&resp)
	obj, ok := objectOf(&resp)
	if !ok || obj == row.Value {
		return false
	}
	if notNewer(storedVersion(obj), storedVersion(row.Value)) {
		return false
	}
	if err := m.persist(row.Key, "the stored copy stays until the next resync", func() error {
		return m.store.Save(Meta{Key: row.Key, Type: row.Type, Value: obj})
	}); err != nil {
		return false
	}
	upd := model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, row.Key, model.UpdateOperation).FillBody(json.RawMessage(obj))
	m.send(model.EdgedModuleName, upd)
	return true
}
