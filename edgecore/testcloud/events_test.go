package testcloud

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// send writes an edge message and expects no reply.
func (e *edge) send(resource, op string, content any) {
	e.t.Helper()
	m := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, resource, op).FillBody(content)
	if err := e.ws.WriteJSON(m); err != nil {
		e.t.Fatal(err)
	}
}

// An edge's events are created, updated and patched in the API server as
// cloudcore does it; what the API server refuses is refused, and nothing
// is answered either way.
func TestEventsToTheAPIServer(t *testing.T) {
	c, k, e := kubeCloud(t, "events-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.EnsureNamespace(ctx, "ev"); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	ev := &v1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.17", Namespace: "ev"},
		InvolvedObject: v1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "ev", Name: "web", UID: "u-1", FieldPath: "spec.containers{app}"},
		Reason:         "BackOff", Message: `Back-off pulling image "x"`, Type: v1.EventTypeNormal,
		Source:         v1.EventSource{Component: "kubelet", Host: "events-1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "kubelet", ReportingInstance: "events-1",
	}
	events := k.Client().CoreV1().Events("ev")
	get := func(what string, cond func(*v1.Event) bool) *v1.Event {
		t.Helper()
		var got *v1.Event
		deadline := time.Now().Add(10 * time.Second)
		for {
			var err error
			got, err = events.Get(ctx, "web.17", metav1.GetOptions{})
			if err == nil && cond(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: event %+v (%v)", what, got, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	e.send("ev/event/web.17", model.InsertOperation, ev)
	created := get("create", func(got *v1.Event) bool { return true })
	if created.Reason != "BackOff" || created.Count != 1 || created.InvolvedObject.FieldPath != "spec.containers{app}" || created.Source.Host != "events-1" {
		t.Fatalf("created %+v", created)
	}
	later := metav1.NewTime(now.Add(30 * time.Second))
	e.send("ev/event/web.17", model.PatchOperation, eventPatch{Event: ev,
		Data: `{"count":2,"lastTimestamp":"` + later.UTC().Format(time.RFC3339) + `","message":"Back-off pulling image \"x\""}`})
	patched := get("patch", func(got *v1.Event) bool { return got.Count == 2 })
	if !patched.LastTimestamp.Equal(&later) || !patched.FirstTimestamp.Equal(&now) {
		t.Fatalf("patched %+v", patched)
	}
	patched.Count = 5
	e.send("ev/event/web.17", model.UpdateOperation, patched)
	get("update", func(got *v1.Event) bool { return got.Count == 5 })

	// Refusals, each as the API server words it.
	foreign := ev.DeepCopy()
	foreign.Name, foreign.Namespace = "web.18", "default" // about a pod of namespace ev
	missing := ev.DeepCopy()
	missing.Name = "web.gone"
	for _, w := range []struct {
		op      string
		content any
		want    string
	}{
		{model.InsertOperation, ev, "already exists"},
		{model.InsertOperation, foreign, "does not match event.namespace"},
		{model.PatchOperation, eventPatch{Event: missing, Data: `{"count":2}`}, "not found"},
		{model.PatchOperation, map[string]any{"patchData": "{}"}, "no event"},
		{model.InsertOperation, "{not json", "unmarshal insert event"},
	} {
		before := 0
		c.Inspect(func(v *View) { before = len(v.EventRefusals()) })
		e.send("ev/event/x", w.op, w.content)
		waitFor(t, c, "refusal of "+w.want, func(v *View) bool { return len(v.EventRefusals()) > before })
		c.Inspect(func(v *View) {
			r := v.EventRefusals()[before]
			if r.Node != "events-1" || r.Operation != w.op || !strings.Contains(r.Err, w.want) {
				t.Errorf("refusal %+v, want %s with %q", r, w.op, w.want)
			}
		})
	}
	if _, err := k.Client().CoreV1().Events("default").Get(ctx, "web.18", metav1.GetOptions{}); err == nil {
		t.Error("the event in a namespace other than its pod's was created")
	}
	// cloudcore answers no event write.
	e.ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		var m model.Message
		if err := e.ws.ReadJSON(&m); err != nil {
			break
		}
		if m.Operation() == model.ResponseOperation && strings.Contains(m.Resource(), "/event/") {
			t.Fatalf("the cloud answered an event write: %+v", m)
		}
	}
}
