package events

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/edgegate/edgegate/edgecore/model"
)

// The writes are KubeEdge's: an insert carries the event; a patch carries
// {"event","patchData"} whose patch is exactly what client-go's event
// logger computes for a repeat.
func TestEncode(t *testing.T) {
	first := newMaker().event("BackOff", `Back-off pulling image "x"`, v1.EventTypeNormal, t0)
	w, err := encode(first, false)
	if err != nil {
		t.Fatal(err)
	}
	if w.Operation != model.InsertOperation || w.Resource != "shop/event/"+first.Name {
		t.Fatalf("insert: %s %s", w.Operation, w.Resource)
	}
	var created v1.Event
	if err := json.Unmarshal(w.Content, &created); err != nil || !equality.Semantic.DeepEqual(&created, first) {
		t.Fatalf("insert content %s (%v), want the event", w.Content, err)
	}

	repeat := first.DeepCopy()
	repeat.Count = 4
	repeat.LastTimestamp = metav1.NewTime(t0.Add(time.Minute))
	repeat.Message = `Back-off pulling image "x" again`
	w, err = encode(repeat, true)
	if err != nil {
		t.Fatal(err)
	}
	if w.Operation != model.PatchOperation || w.Resource != "shop/event/"+first.Name {
		t.Fatalf("patch: %s %s", w.Operation, w.Resource)
	}
	var info struct {
		Event     *v1.Event `json:"event"`
		PatchData string    `json:"patchData"`
	}
	if err := json.Unmarshal(w.Content, &info); err != nil || !equality.Semantic.DeepEqual(info.Event, repeat) {
		t.Fatalf("patch content %s (%v)", w.Content, err)
	}
	// client-go's eventObserve: a two-way merge patch from the event with
	// count, lastTimestamp and message cleared.
	cleared := *repeat
	cleared.Count = 0
	cleared.LastTimestamp = metav1.NewTime(time.Unix(0, 0))
	cleared.Message = ""
	oldData, _ := json.Marshal(&cleared)
	newData, _ := json.Marshal(repeat)
	want, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, repeat)
	if err != nil {
		t.Fatal(err)
	}
	if info.PatchData != string(want) {
		t.Fatalf("patchData %s, want %s", info.PatchData, want)
	}
}

func TestRefs(t *testing.T) {
	pod := testPod()
	for _, tt := range []struct {
		ref  *v1.ObjectReference
		want v1.ObjectReference
	}{
		{PodRef(pod), v1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "shop", Name: "web", UID: "u-1", ResourceVersion: "7"}},
		{ContainerRef(pod, &pod.Spec.Containers[0]), v1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "shop", Name: "web", UID: "u-1", ResourceVersion: "7", FieldPath: "spec.containers{app}"}},
		{ContainerRef(pod, &pod.Spec.InitContainers[0]), v1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "shop", Name: "web", UID: "u-1", ResourceVersion: "7", FieldPath: "spec.initContainers{setup}"}},
		{NodeRef("gw-1"), v1.ObjectReference{Kind: "Node", Name: "gw-1", UID: "gw-1"}},
	} {
		if *tt.ref != tt.want {
			t.Errorf("ref %+v, want %+v", *tt.ref, tt.want)
		}
	}
}

// An event is the kubelet recorder's: named after the object and the
// time, the node's in the default namespace, from the kubelet on the node.
func TestMakeEvent(t *testing.T) {
	r := New(Config{Enable: true, NodeName: "gw-1"}, nil)
	ev := r.makeEvent(NodeRef("gw-1"), v1.EventTypeNormal, "NodeReady", "Node gw-1 status is now: NodeReady", t0)
	want := &v1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "gw-1.1898b5d9b3d68000", Namespace: "default"},
		InvolvedObject:      v1.ObjectReference{Kind: "Node", Name: "gw-1", UID: "gw-1"},
		Reason:              "NodeReady",
		Message:             "Node gw-1 status is now: NodeReady",
		Source:              v1.EventSource{Component: "kubelet", Host: "gw-1"},
		FirstTimestamp:      metav1.NewTime(t0),
		LastTimestamp:       metav1.NewTime(t0),
		Count:               1,
		Type:                v1.EventTypeNormal,
		ReportingController: "kubelet",
		ReportingInstance:   "gw-1",
	}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("event\n%+v\nwant\n%+v", ev, want)
	}
	long := string(make([]byte, 250))
	if n := eventName(long, t0.UnixNano()); len(n) != 36 {
		t.Errorf("name for a 250-byte object %q, want a UUID", n)
	}
	if got := truncate("aé", 2); got != "a" {
		t.Errorf("truncate splits a character: %q", got)
	}
}
