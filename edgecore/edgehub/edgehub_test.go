package edgehub_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edgehub"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

const node = "edge-1"

type rig struct {
	cloud *testcloud.Cloud
	bus   *bus.Bus
	hub   *edgehub.EdgeHub
	cfg   edgehub.Config
	db    *dbm.DB
	stop  func()
}

// newRig starts a test cloud and edgehub connected to it; adjust changes
// edgehub's configuration first.
func newRig(t *testing.T, adjust ...func(cloud *testcloud.Cloud, cfg *edgehub.Config)) *rig {
	t.Helper()
	cloud := testcloud.ForTest(t, testcloud.Options{ResendInterval: time.Second, KeepaliveTimeout: 3 * time.Second})
	tok, _ := cloud.Token(time.Hour)
	dir := t.TempDir()
	cfg := edgehub.Config{
		Enable: true, NodeName: node, Heartbeat: time.Second, Server: cloud.WSServer(),
		HTTPServer: cloud.HTTPServer(), Token: tok,
		TLSCAFile: filepath.Join(dir, "ca.crt"), TLSCertFile: filepath.Join(dir, "server.crt"), TLSPrivateKeyFile: filepath.Join(dir, "server.key"),
	}
	for _, f := range adjust {
		f(cloud, &cfg)
	}
	db, err := dbm.Open(filepath.Join(dir, "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &rig{cloud: cloud, cfg: cfg, db: db}
	r.start(t)
	return r
}

// start runs a fresh bus, edgehub and a "meta"-group recorder module.
func (r *rig) start(t *testing.T) {
	t.Helper()
	b := bus.New()
	for name, group := range map[string]string{model.EdgeHubModuleName: model.HubGroup, "recorder": model.MetaGroup} {
		b.AddModule(name)
		if err := b.AddModuleGroup(name, group); err != nil {
			t.Fatal(err)
		}
	}
	hub, err := edgehub.New(r.cfg, b, r.db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { hub.Start(ctx); close(done) }()
	r.bus, r.hub = b, hub
	r.stop = func() { cancel(); <-done; b.Close() }
	t.Cleanup(r.stop)
}

func (r *rig) wait(t *testing.T, what string, cond func(v *testcloud.View) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.cloud.Wait(ctx, what, cond); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) waitConnected(t *testing.T) {
	t.Helper()
	r.wait(t, "connected", func(v *testcloud.View) bool { return v.Connected(node) })
	deadline := time.Now().Add(10 * time.Second)
	for !r.hub.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("edgehub did not report the session")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// next returns the next message the recorder got that is not a connection notice.
func (r *rig) next(t *testing.T) model.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := r.bus.Receive(ctx, "recorder")
		if err != nil {
			t.Fatalf("recorder: %v", err)
		}
		if m.Router.Resource != model.ResourceTypeNodeConnection {
			return m
		}
	}
}

func countOp(v *testcloud.View, op, resource string) int {
	n := 0
	for _, u := range v.Upstream() {
		if u.Msg.Router.Operation == op && (resource == "" || u.Msg.Router.Resource == resource) {
			n++
		}
	}
	return n
}

func TestConnectKeepaliveAndDispatch(t *testing.T) {
	r := newRig(t)
	r.wait(t, "keepalives", func(v *testcloud.View) bool { return countOp(v, "keepalive", "node") >= 3 })
	r.cloud.Inspect(func(v *testcloud.View) {
		raw := string(v.Upstream()[0].Raw)
		for _, want := range []string{`"source":"websocket"`, `"group":"resource"`, `"operation":"keepalive"`, `"resource":"node"`, `"content":"ping"`} {
			if !strings.Contains(raw, want) {
				t.Errorf("keepalive frame %s lacks %s", raw, want)
			}
		}
		if !strings.HasSuffix(raw, "}\n") {
			t.Errorf("frame %q does not end in a newline as viaduct's WriteJSON", raw)
		}
	})
	pod := testcloud.PodMessage("insert", "default", "nginx", "uid-1", "10", map[string]any{"nodeName": node})
	if err := r.cloud.Send(node, pod); err != nil {
		t.Fatal(err)
	}
	got := r.next(t)
	if got.Header.ID != pod.Header.ID || got.Router.Resource != "default/pod/nginx" || got.Header.ResourceVersion != "10" {
		t.Fatalf("meta group got %+v, want the pod message", got)
	}
	if r.hub.Stats().Connects.Load() != 1 {
		t.Fatalf("connects = %d", r.hub.Stats().Connects.Load())
	}
}

func TestSendSyncResolvedByParentID(t *testing.T) {
	r := newRig(t)
	r.waitConnected(t)
	req := model.NewMessage("").BuildRouter("edged", model.MetaGroup, "default/node/"+node, model.InsertOperation).
		FillBody(map[string]any{"metadata": map[string]any{"name": node}})
	resp, err := r.bus.SendSync(model.EdgeHubModuleName, *req, 10*time.Second)
	if err != nil {
		t.Fatalf("SendSync: %v", err)
	}
	if resp.Header.ParentID != req.Header.ID || resp.Router.Operation != "response" {
		t.Fatalf("reply %+v does not answer %s", resp, req.Header.ID)
	}
	// The cloud here has no API server and says so, in an ObjectResp.
	var body map[string]any
	err = resp.DecodeContent(&body)
	if _, hasObject := body["Object"]; err != nil || !hasObject || body["Err"] == nil {
		t.Fatalf("reply content %s, want an ObjectResp", resp.Content)
	}
	r.cloud.Inspect(func(v *testcloud.View) {
		for _, u := range v.Upstream() {
			if u.Msg.Header.ID == req.Header.ID && strings.Contains(string(u.Raw), `"sync"`) {
				t.Errorf("sync flag went on the wire: %s", u.Raw)
			}
		}
	})
}

func TestBadCloudInputDroppedLinkStays(t *testing.T) {
	r := newRig(t)
	r.waitConnected(t)
	huge := `{"header":{"msg_id":"h","timestamp":1},"route":{"group":"resource","operation":"insert","resource":"a/pod/b"},"content":"` +
		strings.Repeat("x", 9<<20) + `"}`
	frames := []struct {
		frame   string
		counter func(s *edgehub.Stats) uint64
	}{
		{`{not json`, func(s *edgehub.Stats) uint64 { return s.Link.DroppedMalformed.Load() }},
		{`null`, func(s *edgehub.Stats) uint64 { return s.Link.DroppedMalformed.Load() }},
		{`{"header":{"msg_id":"x","timestamp":"yesterday"},"route":{"operation":"insert"}}`, func(s *edgehub.Stats) uint64 { return s.Link.DroppedMalformed.Load() }},
		{`{"header":{"msg_id":1},"route":{"operation":"insert"}}`, func(s *edgehub.Stats) uint64 { return s.Link.DroppedMalformed.Load() }},
		{`{"header":{"msg_id":"x"},"route":"resource"}`, func(s *edgehub.Stats) uint64 { return s.Link.DroppedMalformed.Load() }},
		{`{"header":{"msg_id":"x"},"route":{"group":"nosuchgroup","operation":"insert"}}`, func(s *edgehub.Stats) uint64 { return s.DroppedUnroutable.Load() }},
		{`{"header":{"msg_id":"x"},"route":{"group":"resource","operation":"explode","resource":"a/pod/b"}}`, func(s *edgehub.Stats) uint64 { return s.DroppedUnroutable.Load() }},
		{huge, func(s *edgehub.Stats) uint64 { return s.Link.DroppedOversize.Load() }},
	}
	for _, f := range frames {
		before := f.counter(r.hub.Stats())
		if err := r.cloud.SendRaw(node, []byte(f.frame)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for f.counter(r.hub.Stats()) == before {
			if time.Now().After(deadline) {
				t.Fatalf("frame %.80q was not counted as dropped", f.frame)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The link is the same session and still carries good messages.
	pod := testcloud.PodMessage("insert", "default", "after", "uid-2", "11", nil)
	r.cloud.Send(node, pod)
	if got := r.next(t); got.Header.ID != pod.Header.ID {
		t.Fatalf("after bad input got %+v", got)
	}
	r.cloud.Inspect(func(v *testcloud.View) {
		if v.Connects(node) != 1 {
			t.Fatalf("edge reconnected %d times; bad input must not cut the link", v.Connects(node)-1)
		}
	})
}

func TestOfflineQueueDeliveredAfterReconnect(t *testing.T) {
	r := newRig(t)
	r.waitConnected(t)
	r.cloud.Down()
	deadline := time.Now().Add(10 * time.Second)
	for r.hub.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("edgehub did not notice the cloud went down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A sync request is refused at once, not left to time out.
	q := model.NewMessage("").BuildRouter("metamanager", model.MetaGroup, "default/configmap/c", model.QueryOperation)
	start := time.Now()
	resp, err := r.bus.SendSync(model.EdgeHubModuleName, *q, 10*time.Second)
	if err != nil || resp.Router.Operation != model.ResponseErrorOperation || time.Since(start) > 2*time.Second {
		t.Fatalf("offline SendSync = %+v, %v after %s; want a prompt error reply", resp, err, time.Since(start))
	}
	// Status patches queue, coalescing to the newest; restart edgehub while offline.
	for i := range 3 {
		p := model.NewMessage("").BuildRouter("edged", model.MetaGroup, "default/nodepatch/"+node, model.PatchOperation).
			FillBody(`{"status":{"n":` + string(rune('0'+i)) + `}}`)
		r.bus.Send(model.EdgeHubModuleName, *p)
	}
	ev := model.NewMessage("").BuildRouter("edged", model.MetaGroup, "default/event/e1", model.InsertOperation)
	r.bus.Send(model.EdgeHubModuleName, *ev)
	deadline = time.Now().Add(5 * time.Second)
	for r.hub.Stats().QueuedOffline.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("queued %d, want 4", r.hub.Stats().QueuedOffline.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.stop()
	r.start(t)
	if err := r.cloud.Up(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "queued messages", func(v *testcloud.View) bool {
		return countOp(v, "patch", "default/nodepatch/"+node) >= 1 && countOp(v, "insert", "default/event/e1") == 1
	})
	r.cloud.Inspect(func(v *testcloud.View) {
		var patches []string
		for _, u := range v.Upstream() {
			if u.Msg.Router.Operation == "patch" {
				s, _ := u.Msg.ContentString()
				patches = append(patches, s)
			}
		}
		if len(patches) != 1 || patches[0] != `{"status":{"n":2}}` {
			t.Fatalf("patches delivered %q, want only the newest", patches)
		}
	})
}

// The frame limit is modules.edgeHub.websocket.maxMessageSize: a frame
// over it is dropped and counted, one under it is delivered, the link
// stays.
func TestFrameLimitFromConfig(t *testing.T) {
	const limit = 64 << 10
	r := newRig(t, func(_ *testcloud.Cloud, cfg *edgehub.Config) { cfg.MaxMessage = limit })
	r.waitConnected(t)
	frame := func(id string, size int) []byte {
		head := `{"header":{"msg_id":"` + id + `","timestamp":1},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"a/configmap/c"},"content":"`
		return []byte(head + strings.Repeat("x", size-len(head)-2) + `"}`)
	}
	if err := r.cloud.SendRaw(node, frame("over", limit+1)); err != nil {
		t.Fatal(err)
	}
	if err := r.cloud.SendRaw(node, frame("under", limit)); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got.Header.ID != "under" {
		t.Fatalf("got %s, want the frame of exactly the limit", got.Header.ID)
	}
	if n := r.hub.Stats().Link.DroppedOversize.Load(); n != 1 {
		t.Fatalf("DroppedOversize = %d, want 1", n)
	}
	r.cloud.Inspect(func(v *testcloud.View) {
		if v.Connects(node) != 1 {
			t.Fatalf("%d connects; an oversized frame must not cut the link", v.Connects(node))
		}
	})
}

// With room for one unconfirmed message, each waits for the pong to the
// one before: slower, but everything arrives, in order.
func TestFullWindowWaitsForConfirmation(t *testing.T) {
	r := newRig(t, func(_ *testcloud.Cloud, cfg *edgehub.Config) { cfg.WindowSize = 1 })
	r.waitConnected(t)
	const n = 20
	for i := range n {
		p := model.NewMessage("").BuildRouter("edged", model.MetaGroup, "default/podpatch/p", model.PatchOperation).
			FillBody(fmt.Sprintf(`{"n":%d}`, i))
		if err := r.bus.Send(model.EdgeHubModuleName, *p); err != nil {
			t.Fatal(err)
		}
	}
	r.wait(t, "all patches", func(v *testcloud.View) bool { return countOp(v, "patch", "") == n })
	r.cloud.Inspect(func(v *testcloud.View) {
		i := 0
		for _, u := range v.Upstream() {
			if u.Msg.Router.Operation != "patch" {
				continue
			}
			if got, _ := u.Msg.ContentString(); got != fmt.Sprintf(`{"n":%d}`, i) {
				t.Fatalf("patch %d is %s", i, got)
			}
			i++
		}
	})
	if c := r.hub.Stats().Confirmed.Load(); c < n-1 {
		t.Fatalf("Confirmed = %d after %d patches through a one-message window", c, n)
	}
}
