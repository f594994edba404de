// Package metamanager is edgecore's local object store module (bus name
// "metamanager", group "meta"), following KubeEdge's metamanager.
//
// Every other module talks to it. Objects are keyed by their resource
// string "<ns>/<type>/<name>".
//
// Contract with edgehub (bus name "websocket", group "hub"):
//   - edgehub delivers cloud messages of group "resource"/"func" without a
//     parent_msg_id to the "meta" group (SendToGroup), and resolves those
//     with a parent_msg_id with SendResp;
//   - for each cloud insert/update/delete metamanager first persists, then
//     forwards to edged, then sends the ack (operation "response", content
//     "OK", parent_msg_id = the cloud message's id, source/group/resource
//     copied) to the contextSendGroup ("hub") with SendToGroup; a message
//     the store cannot take (a full disk) is still forwarded, so the node
//     acts on it, but answered with an "error" message and not acked, so
//     the cloud sends it again until it is stored; a message that is not
//     valid is neither forwarded nor acked;
//   - status from the node (node and pod status patches and updates) goes
//     to the cloud whether or not the store could keep a copy; failed
//     store writes are counted (StoreFailures) and logged once a minute;
//   - requests for the cloud go to contextSendModule ("websocket") with
//     SendSync (remoteQueryTimeout) or to the group with SendToGroup;
//   - edgehub announces the link state to the "meta" group with resource
//     "node/connection", operation "connect", content "cloud_connected" or
//     "cloud_disconnected".
package metamanager

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Config is modules.metaManager.
type Config struct {
	Enable             bool
	ContextSendGroup   string        // where messages for the cloud go (default "hub")
	ContextSendModule  string        // who answers remote requests (default "websocket")
	RemoteQueryTimeout time.Duration // default 60 s
	// ResyncOnConnect refreshes stored configmaps and secrets from the
	// cloud each time the link comes up (cloud.go); edgecore turns it on.
	ResyncOnConnect bool
	// FailureLogInterval is how often failed store writes are logged
	// while they last (DefaultFailureLogInterval).
	FailureLogInterval time.Duration
}

func (c *Config) defaults() {
	if c.ContextSendGroup == "" {
		c.ContextSendGroup = model.HubGroup
	}
	if c.ContextSendModule == "" {
		c.ContextSendModule = model.EdgeHubModuleName
	}
	if c.RemoteQueryTimeout <= 0 {
		c.RemoteQueryTimeout = 60 * time.Second
	}
}

// MetaManager is the module.
type MetaManager struct {
	cfg       Config
	bus       *bus.Bus
	store     *Store
	connected atomic.Bool
	// duplicates counts cloud messages acked without applying (cloud.go).
	duplicates atomic.Uint64
	failures   *storeFailures // store writes that failed (failures.go)
	remote     sync.WaitGroup // requests waiting on the cloud
}

// New builds the module on bus b with its tables in db.
func New(cfg Config, b *bus.Bus, db *dbm.DB) (*MetaManager, error) {
	cfg.defaults()
	s, err := NewStore(db)
	if err != nil {
		return nil, err
	}
	return &MetaManager{cfg: cfg, bus: b, store: s, failures: newStoreFailures(cfg.FailureLogInterval)}, nil
}

// StoreFailures counts store writes that failed since start; the messages
// they carried went on all the same.
func (m *MetaManager) StoreFailures() uint64 { return m.failures.count() }

func (m *MetaManager) Name() string  { return model.MetaManagerModuleName }
func (m *MetaManager) Group() string { return model.MetaGroup }
func (m *MetaManager) Enable() bool  { return m.cfg.Enable }

// RestartPolicy restarts metamanager after a failure: without it no module
// can read or write objects.
func (m *MetaManager) RestartPolicy() *core.RestartPolicy {
	return &core.RestartPolicy{Type: core.RestartOnFailure}
}

// Store gives read access to the objects (for tests and tools).
func (m *MetaManager) Store() *Store { return m.store }

// Start processes messages one at a time, in arrival order, until ctx
// ends. Requests that wait on the cloud run beside the loop; Start returns
// only after they finished.
func (m *MetaManager) Start(ctx context.Context) error {
	defer m.remote.Wait()
	for {
		msg, err := m.bus.Receive(ctx, m.Name())
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
				return nil
			}
			return err
		}
		m.process(&msg)
	}
}

// Connected reports the last link state edgehub announced.
func (m *MetaManager) Connected() bool { return m.connected.Load() }

func (m *MetaManager) process(msg *model.Message) {
	if msg.Resource() == model.ResourceTypeNodeConnection {
		m.setConnection(msg)
		return
	}
	fromCloud := model.IsCloudSource(msg.Source())
	switch op := msg.Operation(); {
	case fromCloud && (op == model.InsertOperation || op == model.UpdateOperation):
		m.cloudUpsert(msg)
	case fromCloud && op == model.DeleteOperation:
		m.cloudDelete(msg)
	case fromCloud && op == model.ResponseOperation:
		m.cloudResponse(msg)
	case op == model.QueryOperation:
		m.query(msg)
	case op == model.InsertOperation:
		m.localInsert(msg)
	case op == model.UpdateOperation:
		m.localUpdate(msg)
	case op == model.PatchOperation:
		m.localPatch(msg)
	case op == model.DeleteOperation:
		m.localDelete(msg)
	default:
		klog.V(2).Infof("metamanager: ignoring %s %s from %q (message %s)", op, msg.Resource(), msg.Source(), msg.ID())
	}
}

func (m *MetaManager) setConnection(msg *model.Message) {
	state, _ := msg.ContentString()
	switch state {
	case model.CloudConnected:
		m.connected.Store(true)
		if m.cfg.ResyncOnConnect {
			defer m.resync()
		}
	case model.CloudDisconnected:
		m.connected.Store(false)
	default:
		klog.Warningf("metamanager: unknown connection state %q", msg.ContentText())
		return
	}
	klog.Infof("metamanager: cloud link %s", state)
}
