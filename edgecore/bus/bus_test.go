package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgegate/edgegate/edgecore/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func msg(id, op string) model.Message {
	return model.Message{Header: model.Header{ID: id}, Router: model.Route{Operation: op}}
}

// newBus returns a bus with modules a, b, c in group g and d in group h.
func newBus(t *testing.T) *Bus {
	t.Helper()
	b := New(WithChannelSize(8))
	t.Cleanup(b.Close)
	for _, m := range []struct{ name, group string }{{"a", "g"}, {"b", "g"}, {"c", "g"}, {"d", "h"}} {
		b.AddModule(m.name)
		if err := b.AddModuleGroup(m.name, m.group); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name    string
		send    func(*Bus) error
		want    map[string][]string // module → message IDs it receives
		wantErr error
		dropped uint64
	}{
		{name: "to module", send: func(b *Bus) error { return b.Send("a", msg("1", "x")) }, want: map[string][]string{"a": {"1"}}},
		{name: "to other module", send: func(b *Bus) error { return b.Send("d", msg("2", "x")) }, want: map[string][]string{"d": {"2"}}},
		{name: "unknown module", send: func(b *Bus) error { return b.Send("nobody", msg("3", "x")) }, wantErr: ErrUnknownModule, dropped: 1},
		{name: "to group", send: func(b *Bus) error { return b.SendToGroup("g", msg("4", "x")) }, want: map[string][]string{"a": {"4"}, "b": {"4"}, "c": {"4"}}},
		{name: "to single-member group", send: func(b *Bus) error { return b.SendToGroup("h", msg("5", "x")) }, want: map[string][]string{"d": {"5"}}},
		{name: "unknown group", send: func(b *Bus) error { return b.SendToGroup("nogroup", msg("6", "x")) }, wantErr: ErrUnknownGroup, dropped: 1},
		{name: "sync to unknown module", send: func(b *Bus) error {
			_, err := b.SendSync("nobody", msg("7", "x"), time.Second)
			return err
		}, wantErr: ErrUnknownModule, dropped: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			err := tt.send(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if b.Dropped() != tt.dropped {
				t.Fatalf("Dropped() = %d, want %d", b.Dropped(), tt.dropped)
			}
			for _, mod := range []string{"a", "b", "c", "d"} {
				ch := b.routes.Load().modules[mod].ch
				var got []string
				for len(ch) > 0 {
					m := <-ch
					got = append(got, m.Header.ID)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want[mod]) {
					t.Errorf("module %s received %v, want %v", mod, got, tt.want[mod])
				}
			}
		})
	}
}

func TestGroups(t *testing.T) {
	b := newBus(t)
	if got := fmt.Sprint(b.Modules("g")); got != "[a b c]" {
		t.Fatalf("Modules(g) = %s", got)
	}
	if err := b.AddModuleGroup("a", "g"); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := len(b.Modules("g")); got != 3 {
		t.Fatalf("re-adding a member changed the group to %d members", got)
	}
	if err := b.AddModuleGroup("ghost", "g"); !errors.Is(err, ErrUnknownModule) {
		t.Fatalf("AddModuleGroup(unregistered) = %v", err)
	}
	// Re-adding a module keeps its queue.
	if err := b.Send("a", msg("kept", "x")); err != nil {
		t.Fatal(err)
	}
	b.AddModule("a")
	got, err := b.Receive(context.Background(), "a")
	if err != nil || got.Header.ID != "kept" {
		t.Fatalf("after re-adding a: %v %v", got.Header.ID, err)
	}
	if !b.HasModule("d") || b.HasModule("zz") {
		t.Fatal("HasModule wrong")
	}
}

func TestSendToGroupKeepsPerMemberOrder(t *testing.T) {
	b := New(WithChannelSize(4)) // small buffer: senders block and interleave
	defer b.Close()
	members := []string{"a", "b", "c"}
	for _, m := range members {
		b.AddModule(m)
		_ = b.AddModuleGroup(m, "g")
	}
	const n = 2000
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				got, err := b.Receive(context.Background(), m)
				if err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprint(i); got.Header.ID != want {
					errs <- fmt.Errorf("member %s got %s at position %d", m, got.Header.ID, i)
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := b.SendToGroup("g", msg(fmt.Sprint(i), "x")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// echo answers every request on module with a response to it, until ctx ends.
func echo(ctx context.Context, b *Bus, module string, reply func(req model.Message) []model.Message) {
	for {
		req, err := b.Receive(ctx, module)
		if err != nil {
			return
		}
		for _, r := range reply(req) {
			b.SendResp(r)
		}
	}
}

func answer(req model.Message) []model.Message {
	return []model.Message{{Header: model.Header{ID: "r-" + req.Header.ID, ParentID: req.Header.ID}, Content: json.RawMessage(req.Header.ID)}}
}

func TestSendSyncMatching(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(req model.Message) []model.Message
		timeout time.Duration
		wantErr error
		want    string // reply content
	}{
		{name: "reply matched by parent id", reply: answer, timeout: time.Second, want: "q1"},
		{name: "reply before others", reply: func(req model.Message) []model.Message {
			other := model.Message{Header: model.Header{ID: "x", ParentID: "someone-else"}, Content: json.RawMessage("wrong")}
			return append([]model.Message{other}, answer(req)...)
		}, timeout: time.Second, want: "q1"},
		{name: "duplicate replies: first wins", reply: func(req model.Message) []model.Message {
			second := answer(req)[0]
			second.Content = json.RawMessage("second")
			return append(answer(req), second)
		}, timeout: time.Second, want: "q1"},
		{name: "no reply times out", reply: func(model.Message) []model.Message { return nil }, timeout: 20 * time.Millisecond, wantErr: ErrTimeout},
		{name: "reply to wrong parent times out", reply: func(req model.Message) []model.Message {
			return []model.Message{{Header: model.Header{ParentID: "nope"}}}
		}, timeout: 20 * time.Millisecond, wantErr: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); echo(ctx, b, "a", tt.reply) }()
			defer func() { cancel(); <-done }()

			req := msg("q1", "query")
			got, err := b.SendSync("a", req, tt.timeout)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (string(got.Content) != tt.want || got.Header.ParentID != "q1") {
				t.Fatalf("reply %+v, want content %q parent q1", got, tt.want)
			}
			if b.pending.size() != 0 {
				t.Fatalf("%d reply slots left registered", b.pending.size())
			}
		})
	}
}

func TestSendSyncSetsSyncAndID(t *testing.T) {
	b := newBus(t)
	go func() {
		req, _ := b.Receive(context.Background(), "a")
		if !req.Header.Sync || req.Header.ID == "" {
			req.Content = json.RawMessage("bad")
		}
		b.SendResp(model.Message{Header: model.Header{ParentID: req.Header.ID}, Content: req.Content})
	}()
	got, err := b.SendSync("a", model.Message{Content: json.RawMessage("ok")}, time.Second)
	if err != nil || string(got.Content) != "ok" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestSendSyncDuplicateID(t *testing.T) {
	b := newBus(t)
	first := make(chan error, 1)
	go func() {
		_, err := b.SendSync("a", msg("same", "x"), 200*time.Millisecond)
		first <- err
	}()
	for b.pending.size() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := b.SendSync("b", msg("same", "x"), time.Second); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("second SendSync with the same id: %v", err)
	}
	if err := <-first; !errors.Is(err, ErrTimeout) {
		t.Fatalf("first: %v", err)
	}
}

func TestSendRespUnmatchedIsCounted(t *testing.T) {
	b := newBus(t)
	if b.SendResp(model.Message{Header: model.Header{ParentID: "ghost"}}) {
		t.Fatal("SendResp with no waiter reported delivery")
	}
	if b.UnmatchedResponses() != 1 {
		t.Fatalf("UnmatchedResponses = %d", b.UnmatchedResponses())
	}
}

// TestNoLostReplies runs a million request/reply round trips from several
// callers at once and requires every one to get its own reply.
func TestNoLostReplies(t *testing.T) {
	total := 1_000_000
	if raceEnabled || testing.Short() {
		total = 50_000
	}
	b := New()
	defer b.Close()
	const servers, callers = 2, 4
	for i := 0; i < servers; i++ {
		b.AddModule(fmt.Sprint("s", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var swg sync.WaitGroup
	for i := 0; i < servers; i++ {
		swg.Add(1)
		go func() { defer swg.Done(); echo(ctx, b, fmt.Sprint("s", i), answer) }()
	}
	var cwg sync.WaitGroup
	errs := make(chan error, callers)
	for c := 0; c < callers; c++ {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := c; i < total; i += callers {
				id := fmt.Sprint(i)
				r, err := b.SendSync(fmt.Sprint("s", i%servers), msg(id, "x"), 10*time.Second)
				if err != nil || string(r.Content) != id {
					errs <- fmt.Errorf("round trip %d: reply %s, %v", i, r.Content, err)
					return
				}
			}
		}()
	}
	cwg.Wait()
	cancel()
	swg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if b.UnmatchedResponses() != 0 {
		t.Fatalf("%d replies unmatched", b.UnmatchedResponses())
	}
}

func TestSendToGroupSync(t *testing.T) {
	tests := []struct {
		name        string
		answering   []string
		wantErr     error
		wantReplies int
	}{
		{name: "all members reply", answering: []string{"a", "b", "c"}, wantReplies: 3},
		{name: "one member silent", answering: []string{"a", "c"}, wantErr: ErrTimeout},
		{name: "unknown group", wantErr: ErrUnknownGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, m := range tt.answering {
				wg.Add(1)
				go func() {
					defer wg.Done()
					echo(ctx, b, m, func(req model.Message) []model.Message {
						return []model.Message{{Header: model.Header{ParentID: req.Header.ID}, Content: json.RawMessage(m)}}
					})
				}()
			}
			group := "g"
			if tt.answering == nil {
				group = "none"
			}
			replies, err := b.SendToGroupSync(group, msg("gq", "x"), 50*time.Millisecond)
			cancel()
			wg.Wait()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(replies) != tt.wantReplies {
				t.Fatalf("%d replies, want %d", len(replies), tt.wantReplies)
			}
			if b.pending.size() != 0 {
				t.Fatal("reply slot left registered")
			}
		})
	}
}

func TestCloseUnblocks(t *testing.T) {
	tests := []struct {
		name string
		op   func(b *Bus) error
	}{
		{name: "Receive", op: func(b *Bus) error { _, err := b.Receive(context.Background(), "a"); return err }},
		{name: "Send on full channel", op: func(b *Bus) error {
			for {
				if err := b.Send("a", msg("x", "x")); err != nil {
					return err
				}
			}
		}},
		{name: "SendToGroup on full channel", op: func(b *Bus) error {
			for {
				if err := b.SendToGroup("g", msg("x", "x")); err != nil {
					return err
				}
			}
		}},
		{name: "SendSync", op: func(b *Bus) error { _, err := b.SendSync("a", msg("s", "x"), time.Hour); return err }},
		{name: "SendToGroupSync", op: func(b *Bus) error { _, err := b.SendToGroupSync("g", msg("s", "x"), time.Hour); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			done := make(chan error, 1)
			go func() { done <- tt.op(b) }()
			time.Sleep(10 * time.Millisecond)
			b.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("err = %v, want ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("still blocked after Close")
			}
		})
	}
}

func TestReceiveContext(t *testing.T) {
	b := newBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Receive(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if _, err := b.Receive(ctx, "ghost"); !errors.Is(err, ErrUnknownModule) {
		t.Fatalf("err = %v", err)
	}
}

// TestTimeoutsLeakNothing times out many requests; goleak in TestMain checks
// no goroutine survives, and the pending table must be empty.
func TestTimeoutsLeakNothing(t *testing.T) {
	b := newBus(t)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = b.SendSync("d", msg(fmt.Sprint("t", i), "x"), time.Millisecond)
		}()
	}
	wg.Wait()
	if b.pending.size() != 0 {
		t.Fatalf("%d slots left", b.pending.size())
	}
	// Late replies after timeout are counted, not delivered to a stranger.
	b.SendResp(model.Message{Header: model.Header{ParentID: "t1"}})
	if b.UnmatchedResponses() == 0 {
		t.Fatal("late reply not counted")
	}
}
