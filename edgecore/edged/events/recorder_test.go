package events

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sent is a write as the cloud reads it.
type sent struct {
	op, resource string
	event        v1.Event
	patchData    string
}

func decode(t *testing.T, w Write) sent {
	t.Helper()
	s := sent{op: w.Operation, resource: w.Resource}
	switch w.Operation {
	case model.InsertOperation:
		if err := json.Unmarshal(w.Content, &s.event); err != nil {
			t.Fatalf("insert content %s: %v", w.Content, err)
		}
	case model.PatchOperation:
		var info struct {
			Event     v1.Event `json:"event"`
			PatchData string   `json:"patchData"`
		}
		if err := json.Unmarshal(w.Content, &info); err != nil {
			t.Fatalf("patch content %s: %v", w.Content, err)
		}
		s.event, s.patchData = info.Event, info.PatchData
	default:
		t.Fatalf("operation %s", w.Operation)
	}
	return s
}

// running is a recorder whose Run sends into a channel.
type running struct {
	r      *Recorder
	clk    *clock
	online atomic.Bool
	out    chan Write
}

func startRecorder(t *testing.T, cfg Config, sink func(Write) error) *running {
	t.Helper()
	rr := &running{clk: &clock{now: t0}, out: make(chan Write, 100)}
	rr.online.Store(true)
	cfg.Enable, cfg.NodeName, cfg.Now = true, "gw-1", rr.clk.Now
	if sink == nil {
		sink = func(w Write) error { rr.out <- w; return nil }
	}
	rr.r = New(cfg, sink)
	rr.r.SetOnline(rr.online.Load)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rr.r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return rr
}

func (rr *running) next(t *testing.T) sent {
	t.Helper()
	select {
	case w := <-rr.out:
		return decode(t, w)
	case <-time.After(10 * time.Second):
		t.Fatalf("no write sent; stats %+v", rr.r.Stats())
		return sent{}
	}
}

// waitStats waits until the counters satisfy cond: a write reaches the
// sink before Run counts it as sent.
func (rr *running) waitStats(t *testing.T, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := rr.r.Stats()
		if cond(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: not %s", s, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (rr *running) pull(reason, message string) {
	pod := testPod()
	rr.r.Eventf(ContainerRef(pod, &pod.Spec.Containers[0]), v1.EventTypeWarning, reason, "%s", message)
}

// A first event is created in the cloud, a repeat patches it.
func TestRecorderCreatesThenPatches(t *testing.T) {
	rr := startRecorder(t, Config{}, nil)
	rr.pull("Failed", "Error: ErrImagePull")
	first := rr.next(t)
	if first.op != model.InsertOperation || first.resource != "shop/event/"+first.event.Name ||
		first.event.Count != 1 || first.event.Reason != "Failed" || first.event.InvolvedObject.FieldPath != "spec.containers{app}" {
		t.Fatalf("first write %+v", first)
	}
	rr.clk.advance(10 * time.Second)
	rr.pull("Failed", "Error: ErrImagePull")
	second := rr.next(t)
	want := `{"count":2,"lastTimestamp":"2026-03-01T12:00:10Z","message":"Error: ErrImagePull"}`
	if second.op != model.PatchOperation || second.resource != first.resource || second.event.Count != 2 || second.patchData != want {
		t.Fatalf("repeat write %+v, want a patch %s of %s", second, want, first.resource)
	}
	rr.waitStats(t, "2 recorded, 2 sent", func(s Stats) bool { return s.Recorded == 2 && s.Sent == 2 && s.Pending == 0 })
}

// While the cloud is away events wait, a repeat replaces its waiting
// write, and past the bound the oldest are dropped and counted. An event
// whose create was dropped is created by its next occurrence, with its
// full count.
func TestRecorderWhileCloudAway(t *testing.T) {
	rr := startRecorder(t, Config{QueueBytes: 2000}, nil)
	rr.online.Store(false)
	rr.pull("Failed", "A")
	rr.pull("Failed", "B")
	rr.pull("Failed", "A") // replaces A's waiting create: still one write
	if s := rr.r.Stats(); s.Pending != 2 || s.Dropped != 0 {
		t.Fatalf("stats after A, B, A: %+v", s)
	}
	for _, m := range []string{"C", "D", "E"} {
		rr.pull("Failed", m)
	}
	s := rr.r.Stats()
	if s.Dropped == 0 || s.PendingBytes > 2000 || s.Sent != 0 {
		t.Fatalf("stats past the bound: %+v", s)
	}
	rr.online.Store(true)
	var got []string
	for range s.Pending {
		w := rr.next(t)
		if w.op != model.InsertOperation {
			t.Fatalf("write after the outage %+v, want creates", w)
		}
		got = append(got, w.event.Message)
	}
	if got[0] == "A" || got[len(got)-1] != "E" {
		t.Fatalf("sent %v after the outage: want the oldest (A) dropped, E last", got)
	}
	rr.pull("Failed", "A")
	if w := rr.next(t); w.op != model.InsertOperation || w.event.Message != "A" || w.event.Count != 3 {
		t.Fatalf("A after its create was dropped: %+v, want a create with count 3", w)
	}
}

// The API server forgets an event an hour after its last write: the next
// occurrence creates it again instead of patching nothing.
func TestRecorderRecreatesExpiredEvents(t *testing.T) {
	rr := startRecorder(t, Config{}, nil)
	rr.pull("BackOff", "x")
	first := rr.next(t)
	rr.clk.advance(59 * time.Minute)
	rr.pull("BackOff", "x")
	if w := rr.next(t); w.op != model.PatchOperation {
		t.Fatalf("after 59 min: %s, want a patch", w.op)
	}
	rr.clk.advance(61 * time.Minute)
	rr.pull("BackOff", "x")
	w := rr.next(t)
	if w.op != model.InsertOperation || w.event.Name != first.event.Name || w.event.Count != 3 || !w.event.FirstTimestamp.Equal(&first.event.FirstTimestamp) {
		t.Fatalf("after 61 min: %+v, want the event created again with count 3", w)
	}
}

// A write the sink refuses is sent again, as what the cloud needs then.
func TestRecorderRetriesRefusedWrites(t *testing.T) {
	var calls atomic.Int32
	out := make(chan Write, 10)
	rr := startRecorder(t, Config{}, func(w Write) error {
		if calls.Add(1) == 1 {
			return errors.New("bus closed")
		}
		out <- w
		return nil
	})
	rr.out = out
	rr.pull("Failed", "x")
	if w := rr.next(t); w.op != model.InsertOperation || w.event.Count != 1 {
		t.Fatalf("retried write %+v, want the create", w)
	}
	rr.waitStats(t, "1 sent", func(s Stats) bool { return s.Sent == 1 && s.Pending == 0 })
}

// With reportEvent off nothing is sent: events are only logged.
func TestRecorderDisabled(t *testing.T) {
	r := New(Config{NodeName: "gw-1"}, func(w Write) error {
		t.Errorf("sent %s %s", w.Operation, w.Resource)
		return nil
	})
	pod := testPod()
	r.Eventf(PodRef(pod), v1.EventTypeWarning, "Failed", "x")
	done := make(chan struct{})
	go func() { r.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run of a disabled recorder does not return")
	}
	if s := r.Stats(); s != (Stats{}) {
		t.Fatalf("stats %+v", s)
	}
}

// Only the two event types Kubernetes knows are recorded.
func TestRecorderRefusesUnknownTypes(t *testing.T) {
	r := New(Config{Enable: true, NodeName: "gw-1"}, nil)
	r.Eventf(NodeRef("gw-1"), "Error", "Boom", "x")
	if s := r.Stats(); s.Recorded != 0 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}
