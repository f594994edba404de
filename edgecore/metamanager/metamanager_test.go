package metamanager

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

func cloudMsg(op, resource string, content any) *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, resource, op).
		FillBody(content).SetResourceVersion("101")
}

func pod(uid string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": "nginx", "uid": uid}}
}

// checkAck asserts ack is metamanager's KubeEdge ack of req.
func checkAck(t *testing.T, ack model.Message, req *model.Message) {
	t.Helper()
	if ack.Operation() != model.ResponseOperation || ack.ParentID() != req.ID() || ack.ContentText() != model.AckContent ||
		ack.Source() != req.Source() || ack.Group() != req.Group() || ack.Resource() != req.Resource() {
		t.Fatalf("ack %+v does not acknowledge %+v", ack, req)
	}
}

func TestCloudMessagesPersistForwardAck(t *testing.T) {
	tests := []struct {
		name      string
		prepare   map[string]string // rows before
		msg       *model.Message
		forwardTo string // module that gets the message ("" = none)
		wantRows  map[string]string
		wantGone  []string
		wantAck   bool
	}{
		{
			name: "insert pod", msg: cloudMsg(model.InsertOperation, "default/pod/nginx", pod("u1")),
			forwardTo: model.EdgedModuleName, wantAck: true,
			wantRows: map[string]string{"default/pod/nginx": `{"metadata":{"name":"nginx","uid":"u1"}}`},
		},
		{
			name: "update configmap given as JSON string", msg: cloudMsg(model.UpdateOperation, "default/configmap/cm", `{"data":{"k":"v"}}`),
			prepare: map[string]string{"default/configmap/cm": `{"data":{}}`}, forwardTo: model.EdgedModuleName, wantAck: true,
			wantRows: map[string]string{"default/configmap/cm": `{"data":{"k":"v"}}`},
		},
		{
			name: "delete pod with matching uid removes pod and podpatch", msg: cloudMsg(model.DeleteOperation, "default/pod/nginx", pod("u1")),
			prepare:   map[string]string{"default/pod/nginx": `{"metadata":{"uid":"u1"}}`, "default/podpatch/nginx": "{}"},
			forwardTo: model.EdgedModuleName, wantAck: true, wantGone: []string{"default/pod/nginx", "default/podpatch/nginx"},
		},
		{
			name: "stale delete spares a recreated pod", msg: cloudMsg(model.DeleteOperation, "default/pod/nginx", pod("old")),
			prepare:   map[string]string{"default/pod/nginx": `{"metadata":{"uid":"new"}}`},
			forwardTo: model.EdgedModuleName, wantAck: true,
			wantRows: map[string]string{"default/pod/nginx": `{"metadata":{"uid":"new"}}`},
		},
		{
			name: "device goes to twin", msg: model.NewMessage("").BuildRouter(model.DeviceControllerModuleName, model.ResourceGroup,
				"default/device/d1", model.InsertOperation).FillBody(map[string]any{"x": 1}),
			forwardTo: model.TwinModuleName, wantAck: true, wantRows: map[string]string{"default/device/d1": `{"x":1}`},
		},
		{
			name: "policy is stored, not forwarded", msg: model.NewMessage("").BuildRouter(model.PolicyControllerModuleName, model.ResourceGroup,
				"default/serviceaccountaccess/sa", model.InsertOperation).FillBody(map[string]any{}),
			wantAck: true, wantRows: map[string]string{"default/serviceaccountaccess/sa": `{}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tt.prepare {
				if err := h.mm.Store().Save(Meta{Key: k, Type: model.ResourceType(k), Value: v}); err != nil {
					t.Fatal(err)
				}
			}
			h.toMeta(tt.msg)
			ack := h.recv(model.EdgeHubModuleName)
			// Persist-then-ack: by the time the ack exists the row is stored.
			for k, want := range tt.wantRows {
				if got, ok := h.row(k); !ok || got != want {
					t.Errorf("row %s = %q (%v), want %q", k, got, ok, want)
				}
			}
			for _, k := range tt.wantGone {
				if _, ok := h.row(k); ok {
					t.Errorf("row %s still there", k)
				}
			}
			if tt.wantAck {
				checkAck(t, ack, tt.msg)
			}
			if tt.forwardTo != "" {
				fwd := h.recv(tt.forwardTo)
				if fwd.ID() != tt.msg.ID() || fwd.Operation() != tt.msg.Operation() {
					t.Fatalf("forwarded %+v", fwd)
				}
			}
			for _, m := range []string{model.EdgedModuleName, model.TwinModuleName, model.EdgeHubModuleName} {
				h.none(m)
			}
		})
	}
}

func TestCloudMessageThatCannotBeStoredIsNotAcked(t *testing.T) {
	h := newHarness(t)
	bad := cloudMsg(model.InsertOperation, "membership", map[string]any{})
	h.toMeta(bad)
	reply := h.recv(model.EdgeHubModuleName)
	if reply.Operation() != model.ResponseErrorOperation || reply.ParentID() != bad.ID() {
		t.Fatalf("reply %+v, want an error message", reply)
	}
	h.none(model.EdgedModuleName)
}

func TestStoredObjectsSurviveRestart(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 5; i++ {
		h.toMeta(cloudMsg(model.InsertOperation, fmt.Sprintf("default/pod/p%d", i), pod(fmt.Sprint("u", i))))
		h.recv(model.EdgeHubModuleName)
		h.recv(model.EdgedModuleName)
	}
	h.restart()
	resp, err := h.bus.SendSync(model.MetaManagerModuleName, *model.NewMessage("").BuildRouter(model.EdgedModuleName,
		model.ResourceGroup, "default/pod", model.QueryOperation), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if vals := []string(nil); resp.DecodeContent(&vals) != nil || len(vals) != 5 {
		t.Fatalf("after restart, pod list = %s", resp.ContentText())
	}
}

func localQuery(resource string) *model.Message {
	return model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup, resource, model.QueryOperation)
}

func TestLocalQuery(t *testing.T) {
	h := newHarness(t)
	if err := h.mm.Store().Save(
		Meta{Key: "default/pod/a", Type: "pod", Value: "A"}, Meta{Key: "other/pod/b", Type: "pod", Value: "B"},
		Meta{Key: "default/configmap/c", Type: "configmap", Value: "C"},
	); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		online   bool
		resource string
		want     []string
		wantErr  string
		remote   bool
	}{
		{name: "by key", resource: "default/pod/a", want: []string{"A"}},
		{name: "missing key", resource: "default/pod/zz", want: []string{}},
		{name: "list by type", resource: "default/pod", want: []string{"A", "B"}},
		{name: "configmap offline from store", resource: "default/configmap/c", want: []string{"C"}},
		{name: "configmap online asks the cloud", online: true, resource: "default/configmap/c", remote: true},
		{name: "pod online still local", online: true, resource: "default/pod/a", want: []string{"A"}},
		{name: "bad resource", resource: "x", wantErr: "segments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.setOnline(tt.online)
			q := localQuery(tt.resource)
			type result struct {
				m   model.Message
				err error
			}
			res := make(chan result, 1)
			go func() {
				m, err := h.bus.SendSync(model.MetaManagerModuleName, *q, time.Second)
				res <- result{m, err}
			}()
			if tt.remote {
				up := h.recv(model.EdgeHubModuleName)
				if up.Operation() != model.QueryOperation || up.Resource() != tt.resource || up.ID() == q.ID() || !up.IsSync() {
					t.Fatalf("remote request %+v", up)
				}
				h.bus.SendResp(*model.NewRespByMessage(&up, map[string]any{"data": map[string]any{"k": "cloud"}}))
				ack := h.recv(model.EdgeHubModuleName)
				if ack.ContentText() != model.AckContent {
					t.Fatalf("cloud reply not acked: %+v", ack)
				}
			}
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.m.ParentID() != q.ID() {
				t.Fatalf("reply parent %q, want %q", r.m.ParentID(), q.ID())
			}
			switch {
			case tt.wantErr != "":
				if r.m.Operation() != model.ResponseErrorOperation || !strings.Contains(r.m.ContentText(), tt.wantErr) {
					t.Fatalf("reply %+v, want error %q", r.m, tt.wantErr)
				}
			case tt.remote:
				if v, _ := h.row("default/configmap/c"); v != `{"data":{"k":"cloud"}}` {
					t.Fatalf("cloud answer not stored: %q", v)
				}
			default:
				if r.m.Source() != model.MetaManagerModuleName || r.m.Operation() != model.ResponseOperation ||
					r.m.ContentText() != mustJSON(t, tt.want) {
					t.Fatalf("reply %+v, want %v", r.m, tt.want)
				}
			}
		})
	}
}

func TestLocalWrites(t *testing.T) {
	nodeBody := map[string]any{"metadata": map[string]any{"name": "edge1"}}
	tests := []struct {
		name    string
		online  bool
		msg     *model.Message
		cloud   func(t *testing.T, h *harness, up model.Message) // plays the cloud
		wantOp  string                                           // reply operation to requester
		wantMsg string                                           // reply content
		wantRow map[string]string
	}{
		{
			name: "insert offline fails", msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/node/edge1", model.InsertOperation).FillBody(nodeBody),
			wantOp: model.ResponseErrorOperation, wantMsg: "not connected",
		},
		{
			name: "insert online goes through the cloud and stores its object", online: true,
			msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/node/edge1", model.InsertOperation).FillBody(nodeBody),
			cloud: func(t *testing.T, h *harness, up model.Message) {
				body, _ := json.Marshal(map[string]any{"Object": map[string]any{"metadata": map[string]any{"name": "edge1", "uid": "n1"}}, "Err": nil})
				reply := model.NewRespByMessage(&up, string(body))
				h.bus.SendResp(*reply)
				// The ack names the cloud's reply, as KubeEdge's does.
				checkAckOf(t, h.recv(model.EdgeHubModuleName), reply.ID())
			},
			wantOp:  model.ResponseOperation,
			wantRow: map[string]string{"default/node/edge1": `{"metadata":{"name":"edge1","uid":"n1"}}`},
		},
		{
			name: "insert rejected by the cloud is not stored", online: true,
			msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/node/edge2", model.InsertOperation).FillBody(nodeBody),
			cloud: func(t *testing.T, h *harness, up model.Message) {
				h.bus.SendResp(*model.NewRespByMessage(&up, map[string]any{"Object": nil, "Err": map[string]any{"ErrStatus": map[string]any{"reason": "AlreadyExists"}}}))
				h.recv(model.EdgeHubModuleName) // ack
			},
			wantOp: model.ResponseOperation, wantRow: map[string]string{"default/node/edge2": ""},
		},
		{
			name: "status update stored, sent up, OK at once",
			msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/podstatus/p", model.UpdateOperation).FillBody(map[string]any{"phase": "Running"}),
			cloud:  func(t *testing.T, h *harness, up model.Message) {},
			wantOp: model.ResponseOperation, wantMsg: "OK",
			wantRow: map[string]string{"default/podstatus/p": `{"phase":"Running"}`},
		},
		{
			name: "patch offline is stored, queued for the cloud and fails",
			msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/nodepatch/edge1", model.PatchOperation).FillBody(`{"status":{}}`),
			cloud: func(t *testing.T, h *harness, up model.Message) {
				if up.IsSync() {
					t.Fatalf("queued patch %+v is sync; edgehub would answer it too", up)
				}
			},
			wantOp: model.ResponseErrorOperation, wantMsg: "connection lost",
			wantRow: map[string]string{"default/nodepatch/edge1": `{"status":{}}`},
		},
		{
			name: "patch online keeps the message id; the cloud answers directly", online: true,
			msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"default/podpatch/p", model.PatchOperation).FillBody(`{"status":{}}`),
			cloud: func(t *testing.T, h *harness, up model.Message) {
				h.bus.SendResp(*model.NewRespByMessage(&up, "patched"))
			},
			wantOp: model.ResponseOperation, wantMsg: "patched",
			wantRow: map[string]string{"default/podpatch/p": `{"status":{}}`},
		},
		{
			name: "lease offline fails", msg: model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup,
				"kube-node-lease/lease/edge1", model.UpdateOperation).FillBody(map[string]any{}),
			wantOp: model.ResponseErrorOperation, wantMsg: "not connected",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.setOnline(tt.online)
			type result struct {
				m   model.Message
				err error
			}
			res := make(chan result, 1)
			go func() {
				m, err := h.bus.SendSync(model.MetaManagerModuleName, *tt.msg, 2*time.Second)
				res <- result{m, err}
			}()
			if tt.cloud != nil {
				up := h.recv(model.EdgeHubModuleName)
				if up.Operation() != tt.msg.Operation() || up.Resource() != tt.msg.Resource() {
					t.Fatalf("sent up %+v", up)
				}
				if tt.msg.Operation() == model.PatchOperation && up.ID() != tt.msg.ID() {
					t.Fatalf("patch sent up with id %s, want %s", up.ID(), tt.msg.ID())
				}
				tt.cloud(t, h, up)
			}
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.m.ParentID() != tt.msg.ID() || r.m.Operation() != tt.wantOp {
				t.Fatalf("reply %+v, want %s to %s", r.m, tt.wantOp, tt.msg.ID())
			}
			if tt.wantMsg != "" && r.m.ContentText() != tt.wantMsg {
				t.Fatalf("reply content %s, want %q", r.m.ContentText(), tt.wantMsg)
			}
			for k, want := range tt.wantRow {
				got, ok := h.row(k)
				if want == "" && ok {
					t.Errorf("row %s stored: %q", k, got)
				}
				if want != "" && got != want {
					t.Errorf("row %s = %q, want %q", k, got, want)
				}
			}
			h.none(model.EdgeHubModuleName)
		})
	}
}

func checkAckOf(t *testing.T, ack model.Message, parent string) {
	t.Helper()
	if ack.Operation() != model.ResponseOperation || ack.ParentID() != parent || ack.ContentText() != model.AckContent {
		t.Fatalf("ack %+v, want OK for %s", ack, parent)
	}
}

func TestEventsGoStraightUp(t *testing.T) {
	h := newHarness(t)
	ev := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.ResourceGroup, "default/event/e1", model.InsertOperation).FillBody(map[string]any{})
	h.toMeta(ev)
	if up := h.recv(model.EdgeHubModuleName); up.ID() != ev.ID() {
		t.Fatalf("event not forwarded: %+v", up)
	}
}
