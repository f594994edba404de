package metamanager

import (
	"strings"
	"testing"

	"github.com/edgegate/edgegate/edgecore/model"
)

func TestNotNewer(t *testing.T) {
	tests := []struct {
		in, stored string
		want       bool
	}{
		{"5", "5", true}, {"4", "5", true}, {"6", "5", false}, {"10", "9", false},
		{"", "5", false}, {"5", "", false}, {"abc", "abc", true}, {"abd", "abc", false},
	}
	for _, tt := range tests {
		if got := notNewer(tt.in, tt.stored); got != tt.want {
			t.Errorf("notNewer(%q, %q) = %v, want %v", tt.in, tt.stored, got, tt.want)
		}
	}
}

func versioned(op, uid, rv string, extra string) *model.Message {
	m := model.NewMessage("").BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, "default/pod/web", op)
	m.SetResourceVersion(rv)
	m.FillBody(`{"metadata":{"name":"web","uid":"` + uid + `","resourceVersion":"` + rv + `"}` + extra + `}`)
	return m
}

// TestResendsApplyOnce: every delivery is acked, but only a newer version
// is stored and forwarded to edged.
func TestResendsApplyOnce(t *testing.T) {
	h := newHarness(t)
	insert := versioned(model.InsertOperation, "u1", "10", "")
	update := versioned(model.UpdateOperation, "u1", "11", `,"spec":{"v":2}`)
	steps := []struct {
		name    string
		msg     *model.Message
		applied bool
		wantRV  string
	}{
		{"insert", insert, true, "10"},
		{"resend of insert", insert, false, "10"},
		{"update", update, true, "11"},
		{"resend of update", update, false, "11"},
		{"stale version from a resync", versioned(model.UpdateOperation, "u1", "10", `,"spec":{"stale":true}`), false, "11"},
		{"delete", versioned(model.DeleteOperation, "u1", "12", ""), true, ""},
		{"resend of delete", versioned(model.DeleteOperation, "u1", "12", ""), false, ""},
	}
	for _, s := range steps {
		h.toMeta(s.msg)
		checkAck(t, h.recv(model.EdgeHubModuleName), s.msg)
		if s.applied {
			if fwd := h.recv(model.EdgedModuleName); fwd.ID() != s.msg.ID() {
				t.Fatalf("%s: edged got %+v", s.name, fwd)
			}
		} else {
			h.none(model.EdgedModuleName)
		}
		row, ok := h.row("default/pod/web")
		if got := storedVersion(row); (s.wantRV == "" && ok) || got != s.wantRV {
			t.Fatalf("%s: stored version %q (present %v), want %q", s.name, got, ok, s.wantRV)
		}
	}
	if h.mm.Duplicates() != 4 {
		t.Fatalf("Duplicates = %d, want 4", h.mm.Duplicates())
	}
}

// TestResyncOnConnect: after the link comes up, stored configmaps and
// secrets are asked for again; a newer answer is stored and passed to edged.
func TestResyncOnConnect(t *testing.T) {
	h := newHarness(t)
	h.mm.cfg.ResyncOnConnect = true
	if err := h.mm.Store().Save(
		Meta{Key: "default/configmap/cfg", Type: "configmap", Value: `{"metadata":{"resourceVersion":"3"},"data":{"k":"old"}}`},
		Meta{Key: "default/pod/p", Type: "pod", Value: `{}`},
	); err != nil {
		t.Fatal(err)
	}
	h.setOnline(true)
	q := h.recv(model.EdgeHubModuleName)
	if q.Operation() != model.QueryOperation || q.Resource() != "default/configmap/cfg" || !q.IsSync() {
		t.Fatalf("resync request %+v", q)
	}
	newer := `{"metadata":{"resourceVersion":"4"},"data":{"k":"new"}}`
	resp := model.NewRespByMessage(&q, nil)
	resp.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, q.Resource(), model.ResponseOperation)
	resp.FillBody(newer)
	h.bus.SendResp(*resp)
	checkAckOf(t, h.recv(model.EdgeHubModuleName), resp.ID())
	upd := h.recv(model.EdgedModuleName)
	if upd.Operation() != model.UpdateOperation || upd.Resource() != "default/configmap/cfg" {
		t.Fatalf("edged got %+v", upd)
	}
	if got, _ := h.row("default/configmap/cfg"); !strings.Contains(got, `"new"`) {
		t.Fatalf("stored %q", got)
	}
	h.none(model.EdgeHubModuleName) // pods are not resynced
}
