package metamanager

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs metamanager on a real bus and a real bbolt file, with the
// modules it talks to (websocket in group hub, edged, twin) played by the
// test through the bus.
type harness struct {
	t    *testing.T
	bus  *bus.Bus
	db   *dbm.DB
	mm   *MetaManager
	path string
	stop func()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessAt(t, filepath.Join(t.TempDir(), "edgecore.db"))
}

// newHarnessAt is newHarness with the store at path.
func newHarnessAt(t *testing.T, path string) *harness {
	t.Helper()
	h := &harness{t: t, bus: bus.New(), path: path}
	for _, m := range []struct{ name, group string }{
		{model.EdgeHubModuleName, model.HubGroup}, {model.EdgedModuleName, model.EdgedGroup},
		{model.TwinModuleName, model.TwinGroup}, {model.MetaManagerModuleName, model.MetaGroup},
	} {
		h.bus.AddModule(m.name)
		if err := h.bus.AddModuleGroup(m.name, m.group); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	t.Cleanup(func() { h.stop(); h.bus.Close() })
	return h
}

func (h *harness) start() {
	var err error
	h.db, err = dbm.Open(h.path, dbm.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mm, err = New(Config{Enable: true, RemoteQueryTimeout: 2 * time.Second}, h.bus, h.db)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.mm.Start(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Start returned %v", err)
		}
		_ = h.db.Close()
		h.stop = func() {}
	}
}

func (h *harness) restart() {
	h.stop()
	h.start()
}

// recv takes the next message for module or fails after a second.
func (h *harness) recv(module string) model.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := h.bus.Receive(ctx, module)
	if err != nil {
		h.t.Fatalf("nothing for %s: %v", module, err)
	}
	return m
}

// none asserts module gets nothing for a short while.
func (h *harness) none(module string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if m, err := h.bus.Receive(ctx, module); err == nil {
		h.t.Fatalf("%s got unexpected %s %s %v", module, m.Operation(), m.Resource(), m.ContentText())
	}
}

func (h *harness) toMeta(m *model.Message) {
	h.t.Helper()
	if err := h.bus.SendToGroup(model.MetaGroup, *m); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) setOnline(on bool) {
	state := model.CloudDisconnected
	if on {
		state = model.CloudConnected
	}
	h.toMeta(model.NewMessage("").BuildRouter(model.SourceNodeConnection, model.ResourceGroup,
		model.ResourceTypeNodeConnection, model.OperationNodeConnection).FillBody(state))
	deadline := time.Now().Add(2 * time.Second)
	for h.mm.Connected() != on && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) row(key string) (string, bool) {
	h.t.Helper()
	m, ok, err := h.mm.Store().Get(key)
	if err != nil {
		h.t.Fatal(err)
	}
	return m.Value, ok
}

// mustJSON is v encoded as a reply body carries it.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
