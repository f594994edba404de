package events

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u-1", ResourceVersion: "7"},
		Spec:       v1.PodSpec{InitContainers: []v1.Container{{Name: "setup"}}, Containers: []v1.Container{{Name: "app"}}},
	}
}

// maker makes events about the test pod's container, named as one
// recorder names them.
type maker struct{ r *Recorder }

func newMaker() maker { return maker{New(Config{Enable: true, NodeName: "gw-1"}, nil)} }

func (m maker) event(reason, message, eventType string, at time.Time) *v1.Event {
	pod := testPod()
	return m.r.makeEvent(ContainerRef(pod, &pod.Spec.Containers[0]), eventType, reason, message, at)
}

// occurrence is one event recorded, and what the correlator must make of it.
type occurrence struct {
	at              time.Duration // after t0
	reason, message string
	typ             string // default Warning

	skip     bool
	repeat   bool
	count    int32
	sameAs   int    // the occurrence whose event object this one is (-1: a new one)
	wantText string // the message written; default message
}

func TestCorrelate(t *testing.T) {
	distinct := func(first, n int) []occurrence {
		var out []occurrence
		for i := range n {
			out = append(out, occurrence{at: time.Duration(first+i) * time.Second, reason: "Unhealthy",
				message: fmt.Sprintf("Liveness probe failed: attempt %d", first+i), count: 1, sameAs: -1})
		}
		return out
	}
	for _, tt := range []struct {
		name string
		occ  []occurrence
	}{
		{"a repeat is the same event, counted", []occurrence{
			{reason: "BackOff", message: `Back-off pulling image "x"`, count: 1, sameAs: -1},
			{at: 10 * time.Second, reason: "BackOff", message: `Back-off pulling image "x"`, repeat: true, count: 2, sameAs: 0},
			{at: 30 * time.Second, reason: "BackOff", message: `Back-off pulling image "x"`, repeat: true, count: 3, sameAs: 0},
		}},
		{"another reason or type is another event", []occurrence{
			{reason: "Failed", message: "Error: ErrImagePull", count: 1, sameAs: -1},
			{reason: "BackOff", message: "Error: ErrImagePull", count: 1, sameAs: -1},
			{reason: "Failed", message: "Error: ErrImagePull", typ: v1.EventTypeNormal, count: 1, sameAs: -1},
			{at: time.Second, reason: "Failed", message: "Error: ErrImagePull", repeat: true, count: 2, sameAs: 0},
		}},
		{"the tenth similar message within ten minutes is combined, and the combined event counts", append(distinct(0, 9),
			occurrence{at: 9 * time.Second, reason: "Unhealthy", message: "Liveness probe failed: attempt 9", count: 1, sameAs: -1,
				wantText: "(combined from similar events): Liveness probe failed: attempt 9"},
			occurrence{at: 10 * time.Second, reason: "Unhealthy", message: "Liveness probe failed: attempt 10", repeat: true, count: 2, sameAs: 9,
				wantText: "(combined from similar events): Liveness probe failed: attempt 10"},
		)},
		{"similar messages further apart than ten minutes are not combined", append(distinct(0, 9),
			occurrence{at: 9*time.Second + 11*time.Minute, reason: "Unhealthy", message: "Liveness probe failed: late", count: 1, sameAs: -1},
		)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, m := newCorrelator(), newMaker()
			var got []*v1.Event
			for i, o := range tt.occ {
				typ := o.typ
				if typ == "" {
					typ = v1.EventTypeWarning
				}
				at := t0.Add(o.at)
				ev := m.event(o.reason, o.message, typ, at)
				res := c.correlate(ev, at)
				got = append(got, res.event)
				if res.skip != o.skip || res.repeat != o.repeat {
					t.Fatalf("occurrence %d: skip %v repeat %v, want %v %v", i, res.skip, res.repeat, o.skip, o.repeat)
				}
				if res.skip {
					continue
				}
				want := o.message
				if o.wantText != "" {
					want = o.wantText
				}
				e := res.event
				if e.Count != o.count || e.Message != want || !e.LastTimestamp.Time.Equal(at) {
					t.Errorf("occurrence %d: count %d message %q last %v, want %d %q %v", i, e.Count, e.Message, e.LastTimestamp, o.count, want, at)
				}
				switch {
				case o.sameAs < 0 && e.Name == "":
					t.Errorf("occurrence %d: no name", i)
				case o.sameAs >= 0 && (e.Name != got[o.sameAs].Name || !e.FirstTimestamp.Equal(&got[o.sameAs].FirstTimestamp)):
					t.Errorf("occurrence %d: %s first %v, want the event of occurrence %d (%s first %v)",
						i, e.Name, e.FirstTimestamp, o.sameAs, got[o.sameAs].Name, got[o.sameAs].FirstTimestamp)
				case o.sameAs < 0:
					for j := range i {
						if got[j] != nil && got[j].Name == e.Name {
							t.Errorf("occurrence %d reuses the event of occurrence %d", i, j)
						}
					}
				}
				if e.InvolvedObject.FieldPath != "spec.containers{app}" || e.Namespace != "shop" || e.Source.Host != "gw-1" {
					t.Errorf("occurrence %d: %+v", i, e)
				}
			}
		})
	}
}

// One object may burst 25 events per type, then one per five minutes; a
// held back event still counts, so the next one written says how often it
// happened.
func TestCorrelateSpamFilter(t *testing.T) {
	c, m := newCorrelator(), newMaker()
	for i := range spamBurst {
		if res := c.correlate(m.event("BackOff", "same", v1.EventTypeWarning, t0), t0); res.skip {
			t.Fatalf("event %d of the burst held back", i+1)
		}
	}
	if res := c.correlate(m.event("BackOff", "same", v1.EventTypeWarning, t0), t0); !res.skip {
		t.Fatalf("event past the burst written: %+v", res.event)
	}
	if res := c.correlate(m.event("Pulled", "other type", v1.EventTypeNormal, t0), t0); res.skip {
		t.Fatal("a Normal event shares the Warning events' bucket")
	}
	later := t0.Add(5 * time.Minute)
	res := c.correlate(m.event("BackOff", "same", v1.EventTypeWarning, later), later)
	if res.skip || res.event.Count != spamBurst+2 {
		t.Fatalf("five minutes later: skip %v, event %+v; want count %d", res.skip, res.event, spamBurst+2)
	}
	if res := c.correlate(m.event("BackOff", "same", v1.EventTypeWarning, later), later); !res.skip {
		t.Fatal("a second event in the refilled bucket")
	}
}

// The caches forget the least recently used entries past their size.
func TestLRU(t *testing.T) {
	c := newLRU[int](2)
	c.add(keyOf("a"), 1)
	c.add(keyOf("b"), 2)
	if _, ok := c.get(keyOf("a")); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.add(keyOf("c"), 3)
	if _, ok := c.get(keyOf("b")); ok || c.len() != 2 {
		t.Fatalf("b kept, len %d", c.len())
	}
	if v, ok := c.get(keyOf("a")); !ok || v != 1 {
		t.Fatalf("a = %d %v", v, ok)
	}
	if keyOf("ab", "c") == keyOf("a", "bc") {
		t.Fatal("fields run into each other in the key")
	}
}
