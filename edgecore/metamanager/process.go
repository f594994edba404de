package metamanager

import (
	"encoding/json"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// remoteQueryTypes are answered by the cloud when it is reachable
// (KubeEdge's requireRemoteQuery).
var remoteQueryTypes = map[string]bool{
	model.ResourceTypeConfigmap: true, model.ResourceTypeSecret: true,
	model.ResourceTypePersistentVolume: true, model.ResourceTypePersistentVolumeClaim: true,
	model.ResourceTypeVolumeAttachment: true, model.ResourceTypeNode: true,
	model.ResourceTypeServiceAccountToken: true, model.ResourceTypeLease: true,
	model.ResourceTypeCSR: true, model.ResourceTypeK8sCA: true,
}

// Error texts edged sees, as KubeEdge's.
const (
	errNotConnected   = "not connected"
	errConnectionLost = "connection lost"
)

func rowOf(msg *model.Message) (Meta, error) {
	data, err := msg.ContentData()
	if err != nil {
		return Meta{}, err
	}
	if _, err := model.ParseResource(msg.Resource()); err != nil {
		return Meta{}, err
	}
	return Meta{Key: msg.Resource(), Type: model.ResourceType(msg.Resource()), Value: string(data)}, nil
}

// applyFromCloud is the persist-then-ack path of a cloud change. A change
// the store already reflects is only acked again. Otherwise it is applied to
// the store, then forwarded, then acked; a change that cannot be applied is
// answered with an error and not acked, so the cloud sends it again.
func (m *MetaManager) applyFromCloud(msg *model.Message, applied func(*model.Message) bool, apply func(*model.Message) error) {
	if applied(msg) {
		m.ackCloud(msg)
		return
	}
	if err := apply(msg); err != nil {
		if isStoreError(err) {
			// The node acts on the change although the store could not
			// keep it: a full disk must not keep a pod running that the
			// cloud deleted. Without the ack the cloud sends it again until
			// it is stored.
			m.forwardFromCloud(msg)
		}
		m.failToCloud(msg, err)
		return
	}
	m.forwardFromCloud(msg)
	m.ackCloud(msg)
}

// cloudUpsert stores a cloud insert/update.
func (m *MetaManager) cloudUpsert(msg *model.Message) {
	m.applyFromCloud(msg, m.upsertApplied, func(msg *model.Message) error {
		return m.saveMessage(msg, thenNotAcked)
	})
}

// saveMessage stores the message's content under its resource. A message
// that is not valid is an error; a store that fails is a *storeError,
// counted, and then says what happens without it.
func (m *MetaManager) saveMessage(msg *model.Message, then string) error {
	row, err := rowOf(msg)
	if err != nil {
		return err
	}
	return m.persist(row.Key, then, func() error { return m.store.Save(row) })
}

// cloudDelete removes the row; a pod only when the UID matches, and then
// its podpatch row in the same transaction.
func (m *MetaManager) cloudDelete(msg *model.Message) {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		m.failToCloud(msg, err)
		return
	}
	m.applyFromCloud(msg, m.deleteApplied, func(msg *model.Message) error {
		return m.persist(msg.Resource(), thenNotAcked, func() error {
			if res.Type != model.ResourceTypePod || res.Name == "" {
				_, err := m.store.Delete(msg.Resource(), "")
				return err
			}
			patch := model.BuildResource(res.Namespace, model.ResourceTypePodPatch, res.Name)
			uid := uidOf(msg)
			if _, err := m.store.Delete(msg.Resource(), uid, patch); err != nil || uid == "" {
				return err
			}
			// The pod's tokens go with it, whether or not the stored pod
			// was this one: nothing can use a token bound to a deleted pod.
			tokens, err := m.store.tokenKeysBoundTo(uid)
			if err != nil {
				return err
			}
			return m.store.DeleteKeys(tokens...)
		})
	})
}

// cloudResponse stores an object the cloud answered with and passes it on.
//
// A token nobody waits for any more is not kept: its store key is that of
// the request, which the answer does not repeat exactly (the API server
// fills in the audiences), and the next sync asks again.
func (m *MetaManager) cloudResponse(msg *model.Message) {
	if row, err := rowOf(msg); err == nil && row.Value != "" && row.Value != model.AckContent && row.Type != model.ResourceTypeServiceAccountToken {
		_ = m.persist(row.Key, thenPassedOn, func() error { return m.store.Save(row) })
	}
	if msg.Source() == model.EdgeControllerModuleName {
		m.send(model.EdgedModuleName, msg)
	} else {
		m.toCloud(msg)
	}
}

func (m *MetaManager) forwardFromCloud(msg *model.Message) {
	switch msg.Source() {
	case model.PolicyControllerModuleName:
		return
	case model.DeviceControllerModuleName:
		_ = m.bus.SendToGroup(model.TwinGroup, *msg)
	default:
		if msg.IsSync() && msg.ParentID() != "" {
			m.bus.SendResp(*msg)
			return
		}
		m.send(model.EdgedModuleName, msg)
	}
}

func (m *MetaManager) ackCloud(msg *model.Message) {
	m.toCloud(model.NewRespByMessage(msg, model.AckContent))
}

func (m *MetaManager) failToCloud(msg *model.Message, err error) {
	if !isStoreError(err) { // those are counted and logged once a minute
		klog.Errorf("metamanager: %s %s (message %s from %s): %v; not acknowledged", msg.Operation(), msg.Resource(), msg.ID(), msg.Source(), err)
	}
	m.toCloud(model.NewErrorMessage(msg, err.Error()))
}

func (m *MetaManager) toCloud(msg *model.Message) {
	_ = m.bus.SendToGroup(m.cfg.ContextSendGroup, *msg)
}

func (m *MetaManager) send(module string, msg *model.Message) {
	_ = m.bus.Send(module, *msg)
}

// reply answers a local request: through SendResp when the requester
// waits (SendSync), else to its module.
func (m *MetaManager) reply(req, resp *model.Message) {
	if req.IsSync() {
		m.bus.SendResp(*resp)
		return
	}
	to := req.Source()
	if to == "" || !m.bus.HasModule(to) {
		to = model.EdgedModuleName
	}
	m.send(to, resp)
}

func (m *MetaManager) replyError(req *model.Message, text string) {
	m.reply(req, model.NewErrorMessage(req, text))
}

// query answers from the cloud for remote types when online, else from
// the local store: the row under the key, or every row of the type for
// "<ns>/<type>". The answer is a list of stored values.
func (m *MetaManager) query(msg *model.Message) {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		m.replyError(msg, err.Error())
		return
	}
	key, err := storeKey(msg, res)
	if err != nil {
		m.replyError(msg, err.Error())
		return
	}
	if remoteQueryTypes[res.Type] && m.Connected() && !model.IsCloudSource(msg.Source()) {
		m.remoteRequest(msg)
		return
	}
	values, err := m.localValues(res, key)
	if err != nil {
		klog.Errorf("metamanager: query %s: %v", msg.Resource(), err)
		m.replyError(msg, err.Error())
		return
	}
	resp := model.NewRespByMessage(msg, values)
	resp.Router.Source = model.MetaManagerModuleName
	if model.IsCloudSource(msg.Source()) {
		m.toCloud(resp)
		return
	}
	m.reply(msg, resp)
}

// localValues reads the store: the row under key, or, for "<ns>/<type>",
// every row of the type (all namespaces, as KubeEdge's type= query; edged
// filters what it needs).
func (m *MetaManager) localValues(res model.Resource, key string) ([]string, error) {
	values := []string{}
	if res.Name == "" {
		rows, err := m.store.ListByType(res.Type)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			values = append(values, r.Value)
		}
		return values, nil
	}
	row, ok, err := m.store.Get(key)
	if err != nil {
		return nil, err
	}
	if ok {
		values = append(values, row.Value)
	}
	return values, nil
}

// localInsert: events go straight to the cloud; other objects are created
// in the cloud first and stored when it answers.
func (m *MetaManager) localInsert(msg *model.Message) {
	if model.ResourceType(msg.Resource()) == model.ResourceTypeEvent {
		m.toCloud(msg)
		return
	}
	if !m.Connected() {
		m.replyError(msg, errNotConnected)
		return
	}
	m.remoteRequest(msg)
}

// localUpdate: leases go through the cloud; status updates are stored,
// sent up, and answered "OK" at once. A status the store cannot take is
// sent up all the same.
func (m *MetaManager) localUpdate(msg *model.Message) {
	if model.ResourceType(msg.Resource()) == model.ResourceTypeEvent {
		m.toCloud(msg) // as an event insert: straight up, not stored
		return
	}
	if model.ResourceType(msg.Resource()) == model.ResourceTypeLease {
		if !m.Connected() {
			m.replyError(msg, errNotConnected)
			return
		}
		m.remoteRequest(msg)
		return
	}
	if err := m.saveMessage(msg, thenSentAnyway); err != nil && !isStoreError(err) {
		m.replyError(msg, err.Error())
		return
	}
	m.toCloud(msg)
	resp := model.NewRespByMessage(msg, model.AckContent)
	resp.Router.Source = model.MetaManagerModuleName
	m.reply(msg, resp)
}

// localPatch stores the patch, then forwards the same message (same id) to
// the cloud, whose response resolves the requester's SendSync directly. A
// patch the store cannot take is forwarded all the same: node and pod
// status must reach the cloud while the link is up, full disk or not.
func (m *MetaManager) localPatch(msg *model.Message) {
	if model.ResourceType(msg.Resource()) == model.ResourceTypeEvent {
		m.toCloud(msg) // as an event insert: straight up, not stored
		return
	}
	if err := m.saveMessage(msg, thenSentAnyway); err != nil && !isStoreError(err) {
		m.replyError(msg, err.Error())
		return
	}
	if !m.Connected() {
		// Hand the patch to edgehub anyway, as a plain send: it queues it
		// and delivers the newest status after reconnect.
		queued := *msg
		queued.Header.Sync = false
		m.toCloud(&queued)
		m.replyError(msg, errConnectionLost)
		return
	}
	m.toCloud(msg)
}

// localDelete forwards to the cloud without touching the store; the row
// goes when the cloud's delete comes back.
func (m *MetaManager) localDelete(msg *model.Message) {
	m.toCloud(msg)
}

// remoteRequest asks the cloud on a fresh message id, stores the object it
// returns, answers the requester with the original id as parent, and acks
// the cloud's reply. It runs beside the message loop.
func (m *MetaManager) remoteRequest(req *model.Message) {
	m.remote.Add(1)
	go func() {
		defer m.remote.Done()
		out := *req
		out.Header.ID = model.NewMessage("").ID()
		out.Header.ParentID = ""
		resp, err := m.bus.SendSync(m.cfg.ContextSendModule, out, m.cfg.RemoteQueryTimeout)
		if err != nil {
			klog.Warningf("metamanager: %s %s: %v", req.Operation(), req.Resource(), err)
			m.replyError(req, err.Error())
			return
		}
		if obj, ok := objectOf(&resp); ok {
			m.keepAnswer(req, obj)
		}
		answer := resp
		answer.Header.ParentID = req.ID()
		m.reply(req, &answer)
		if !noAck(req.Resource()) {
			m.ackCloud(&resp)
		}
	}()
}

// keepAnswer stores the object the cloud answered req with, under the
// request's store key.
func (m *MetaManager) keepAnswer(req *model.Message, obj string) {
	res, err := model.ParseResource(req.Resource())
	if err != nil {
		return
	}
	key, err := storeKey(req, res)
	if err != nil {
		return
	}
	row := Meta{Key: key, Type: res.Type, Value: obj}
	_ = m.persist(row.Key, thenPassedOn, func() error { return m.store.Save(row) })
}

// objectResp is the cloud's answer to a create: {"Object":…,"Err":…}.
type objectResp struct {
	Object json.RawMessage `json:"Object"`
	Err    json.RawMessage `json:"Err"`
}

// objectOf extracts the object to store from a cloud reply: Object of an
// ObjectResp without Err, or the whole content for a plain object.
func objectOf(resp *model.Message) (string, bool) {
	if resp.Operation() == model.ResponseErrorOperation {
		return "", false
	}
	data, err := resp.ContentData()
	if err != nil || len(data) == 0 {
		return "", false
	}
	var or objectResp
	if json.Unmarshal(data, &or) == nil && (or.Object != nil || or.Err != nil) {
		if len(or.Err) > 0 && string(or.Err) != "null" {
			return "", false
		}
		if len(or.Object) == 0 || string(or.Object) == "null" {
			return "", false
		}
		return string(or.Object), true
	}
	if data[0] != '{' || isStatusBody(data) {
		return "", false
	}
	return string(data), true
}

// isStatusBody recognises an error the cloud answers a query with (a
// StatusError as {"ErrStatus":…}, or a bare metav1.Status): it is not the
// object, and storing it would shadow the object once it exists.
func isStatusBody(data []byte) bool {
	var probe struct {
		ErrStatus json.RawMessage `json:"ErrStatus"`
		Kind      string          `json:"kind"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return false
	}
	return len(probe.ErrStatus) > 0 || probe.Kind == "Status"
}

// uidOf returns metadata.uid of the object in a message, if any.
func uidOf(msg *model.Message) string {
	data, err := msg.ContentData()
	if err != nil {
		return ""
	}
	var obj struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	return obj.Metadata.UID
}
