package flood

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

// TestStuckModuleDoesNotStallTheLink runs the real edgehub on the real
// websocket link, sending through the bus's shedding view as edgecore
// does, beside a "meta" module that never reads. The cloud's messages fill
// that module's queue, then are dropped and counted after the shed wait;
// the link keeps reading, so a local request still gets the cloud's answer
// and the session is never re-established.
func TestStuckModuleDoesNotStallTheLink(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{ResendInterval: time.Hour})
	tok, err := cloud.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := dbm.Open(filepath.Join(dir, "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	b := bus.New(bus.WithByteBudget(64 << 10))
	for name, group := range map[string]string{model.EdgeHubModuleName: model.HubGroup, "stuck": model.MetaGroup, model.EdgedModuleName: model.EdgedGroup} {
		b.AddModule(name)
		if err := b.AddModuleGroup(name, group); err != nil {
			t.Fatal(err)
		}
	}
	const shedWait = 50 * time.Millisecond
	hub, err := edgehub.New(edgehub.Config{
		Enable: true, NodeName: "stuck-1", Heartbeat: time.Second, Server: cloud.WSServer(),
		HTTPServer: cloud.HTTPServer(), Token: tok,
		TLSCAFile: filepath.Join(dir, "ca.crt"), TLSCertFile: filepath.Join(dir, "server.crt"), TLSPrivateKeyFile: filepath.Join(dir, "server.key"),
	}, b.Shedding(shedWait), db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = hub.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); b.Close(); <-done }) // closing the bus ends a send blocked in it
	waitCloud(t, cloud, "connected", 20*time.Second, func(v *testcloud.View) bool { return v.Connected("stuck-1") })

	const sent = 40
	spec := map[string]any{"nodeName": "stuck-1", "containers": []any{map[string]any{"name": "c", "image": "nginx", "args": []string{strings.Repeat("x", 16<<10)}}}}
	for i := range sent {
		if err := cloud.Send("stuck-1", testcloud.PodMessage(model.InsertOperation, "default", fmt.Sprint("p", i), fmt.Sprint("uid-", i), fmt.Sprint(100+i), spec)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(sent*shedWait + 20*time.Second)
	for b.Stats()["stuck"].Shed+uint64(b.Stats()["stuck"].Messages) < sent {
		if time.Now().After(deadline) {
			t.Fatalf("after %d cloud messages the stuck module's queue is %+v; want every message queued or shed", sent, b.Stats()["stuck"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := b.Stats()["stuck"]
	if st.Shed == 0 || st.Bytes > 64<<10 {
		t.Fatalf("stuck module's queue %+v: want it full within its byte budget and the rest shed", st)
	}

	// The link still reads: a local request gets the cloud's answer.
	q := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, "default/configmap/cfg", model.QueryOperation)
	resp, err := b.SendSync(model.EdgeHubModuleName, *q, 10*time.Second)
	if err != nil {
		t.Fatalf("a request to the cloud while a module is stuck: %v", err)
	}
	if resp.Header.ParentID != q.ID() {
		t.Fatalf("answer %s is not for request %s", resp.Header.ParentID, q.ID())
	}
	cloud.Inspect(func(v *testcloud.View) {
		if c := v.Connects("stuck-1"); c != 1 {
			t.Errorf("the link was re-established %d times; want the first link kept", c-1)
		}
	})
	t.Logf("stuck module's queue: %+v", st)
}
