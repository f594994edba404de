package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

// sized returns a message of exactly size bytes (model.Message.Size).
func sized(t *testing.T, id string, size int) model.Message {
	t.Helper()
	m := model.Message{Header: model.Header{ID: id}}
	pad := size - m.Size()
	if pad < 0 {
		t.Fatalf("size %d is below a message's overhead", size)
	}
	m.Content = json.RawMessage(strings.Repeat(" ", pad))
	if m.Size() != size {
		t.Fatalf("sized message is %d bytes, want %d", m.Size(), size)
	}
	return m
}

// byteBus returns a bus whose queues hold 1024 messages but only budget
// bytes, with module a in group g.
func byteBus(t *testing.T, budget int64) *Bus {
	t.Helper()
	b := New(WithByteBudget(budget))
	t.Cleanup(b.Close)
	b.AddModule("a")
	if err := b.AddModuleGroup("a", "g"); err != nil {
		t.Fatal(err)
	}
	return b
}

func receiveID(t *testing.T, b *Bus, module string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := b.Receive(ctx, module)
	if err != nil {
		t.Fatal(err)
	}
	return m.Header.ID
}

// TestQueueIsBoundedInBytes: a module that does not read holds at most its
// byte budget, however many messages are sent (the count bound alone let
// 1024 messages of any size in).
func TestQueueIsBoundedInBytes(t *testing.T) {
	tests := []struct {
		name       string
		budget     int64
		size, sent int
		wantQueued int
	}{
		{name: "small messages fill the budget", budget: 4096, size: 1024, sent: 50, wantQueued: 4},
		{name: "a message larger than the budget goes alone into an empty queue", budget: 4096, size: 10000, sent: 5, wantQueued: 1},
		{name: "count still bounds tiny messages", budget: 1 << 30, size: 300, sent: DefaultChannelSize + 10, wantQueued: DefaultChannelSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := byteBus(t, tt.budget)
			s := b.Shedding(time.Millisecond)
			full := 0
			for i := range tt.sent {
				err := s.Send("a", sized(t, fmt.Sprint(i), tt.size))
				if errors.Is(err, ErrQueueFull) {
					full++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			st := b.Stats()["a"]
			if st.Messages != tt.wantQueued || full != tt.sent-tt.wantQueued || st.Shed != uint64(full) || b.Shed() != uint64(full) {
				t.Fatalf("queued %d, %d refused as full, stats %+v; want %d queued and the rest shed", st.Messages, full, st, tt.wantQueued)
			}
			if st.Bytes > tt.budget || st.ByteBudget != tt.budget {
				t.Fatalf("queue holds %d bytes, budget %d; want at most %d", st.Bytes, st.ByteBudget, tt.budget)
			}
			for i := range tt.wantQueued {
				if id := receiveID(t, b, "a"); id != fmt.Sprint(i) {
					t.Fatalf("received %s at position %d: order lost", id, i)
				}
			}
			if st := b.Stats()["a"]; st.Bytes != 0 || st.Messages != 0 {
				t.Fatalf("after draining the queue: %+v, want it empty", st)
			}
		})
	}
}

// TestSendWaitsForBytes: a plain Send into a byte-full queue waits for the
// receiver instead of dropping, and keeps its place in line.
func TestSendWaitsForBytes(t *testing.T) {
	b := byteBus(t, 2048)
	if err := b.Send("a", sized(t, "first", 2000)); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- b.SendToGroup("g", sized(t, "second", 1500)) }()
	waitWaiters(t, &b.routes.Load().modules["a"].bytes, 1)
	select {
	case err := <-sent:
		t.Fatalf("Send into a full queue returned %v without waiting", err)
	default:
	}
	if id := receiveID(t, b, "a"); id != "first" {
		t.Fatalf("received %s first", id)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if id := receiveID(t, b, "a"); id != "second" {
		t.Fatalf("received %s second", id)
	}
}

// TestSendSyncTimesOutOnAFullQueue: a request that cannot even be queued
// before its deadline fails with ErrTimeout and gives its room back.
func TestSendSyncTimesOutOnAFullQueue(t *testing.T) {
	b := byteBus(t, 2048)
	if err := b.Send("a", sized(t, "filler", 2000)); err != nil {
		t.Fatal(err)
	}
	_, err := b.SendSync("a", sized(t, "req", 1000), 20*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("SendSync into a full queue: %v, want ErrTimeout", err)
	}
	if st := b.Stats()["a"]; st.Bytes != 2000 || st.Messages != 1 || b.pending.size() != 0 {
		t.Fatalf("after the timeout: %+v, %d pending; want only the filler", st, b.pending.size())
	}
	_, err = b.SendToGroupSync("g", sized(t, "greq", 1000), 20*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("SendToGroupSync into a full queue: %v, want ErrTimeout", err)
	}
}

// TestShedderDropsAfterItsWait: the cloud link's view gives up after its
// wait, counts the drop per queue, and the queue takes messages again as
// soon as the module reads.
func TestShedderDropsAfterItsWait(t *testing.T) {
	b := byteBus(t, 2048)
	s := b.Shedding(10 * time.Millisecond)
	if err := s.SendToGroup("g", sized(t, "kept", 2000)); err != nil {
		t.Fatal(err)
	}
	err := s.SendToGroup("g", sized(t, "dropped", 1000))
	if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("SendToGroup into a full queue: %v, want ErrQueueFull naming the module", err)
	}
	if err := s.Send("a", sized(t, "dropped too", 1000)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send into a full queue: %v, want ErrQueueFull", err)
	}
	if got := b.Stats()["a"].Shed; got != 2 {
		t.Fatalf("shed count %d, want 2", got)
	}
	if id := receiveID(t, b, "a"); id != "kept" {
		t.Fatalf("received %s", id)
	}
	if err := s.Send("a", sized(t, "after", 1000)); err != nil {
		t.Fatalf("Send after the module read: %v", err)
	}
	if err := s.Send("nobody", sized(t, "x", 300)); !errors.Is(err, ErrUnknownModule) {
		t.Fatalf("Send to an unknown module: %v", err)
	}
	if err := s.SendToGroup("nogroup", sized(t, "x", 300)); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("SendToGroup to an unknown group: %v", err)
	}
}

// TestShedderKeepsConnectionNotices: the link's own connect/disconnect
// notice waits for room like a plain Send; nobody would send it again.
func TestShedderKeepsConnectionNotices(t *testing.T) {
	b := byteBus(t, 2048)
	s := b.Shedding(time.Millisecond)
	if err := b.Send("a", sized(t, "filler", 2000)); err != nil {
		t.Fatal(err)
	}
	notice := *model.NewMessage("").BuildRouter(model.SourceNodeConnection, model.ResourceGroup,
		model.ResourceTypeNodeConnection, model.OperationNodeConnection).FillBody(model.CloudConnected)
	sent := make(chan error, 1)
	go func() { sent <- s.SendToGroup("g", notice) }()
	waitWaiters(t, &b.routes.Load().modules["a"].bytes, 1)
	receiveID(t, b, "a")
	if err := <-sent; err != nil {
		t.Fatalf("notice: %v", err)
	}
	if got := receiveID(t, b, "a"); got != notice.Header.ID {
		t.Fatalf("received %s, want the notice", got)
	}
}

// TestShedderEndsOnClose: a shedding send blocked on a full queue ends with
// ErrClosed when the bus closes, not with a drop.
func TestShedderEndsOnClose(t *testing.T) {
	b := byteBus(t, 2048)
	s := b.Shedding(time.Hour)
	if err := b.Send("a", sized(t, "filler", 2000)); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- s.SendToGroup("g", sized(t, "x", 1000)) }()
	waitWaiters(t, &b.routes.Load().modules["a"].bytes, 1)
	b.Close()
	if err := <-sent; !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// TestBudgetServesInOrder: a waiter that would fit does not overtake one
// that came first; giving up at the front lets the next ones in.
func TestBudgetServesInOrder(t *testing.T) {
	bg := &budget{limit: 1000}
	if err := bg.acquire(900, nil, nil); err != nil {
		t.Fatal(err)
	}
	bigExpire := make(chan time.Time)
	big := make(chan error, 1)
	go func() { big <- bg.acquire(500, bigExpire, nil) }()
	waitWaiters(t, bg, 1)
	small := make(chan error, 1)
	go func() { small <- bg.acquire(50, nil, nil) }()
	waitWaiters(t, bg, 2)
	select {
	case <-small:
		t.Fatal("a small request overtook a larger one that waited before it")
	default:
	}
	close(bigExpire)
	if err := <-big; !errors.Is(err, errNoRoom) {
		t.Fatalf("expired waiter: %v", err)
	}
	if err := <-small; err != nil {
		t.Fatalf("small waiter after the front gave up: %v", err)
	}
	if got := bg.inUse(); got != 950 {
		t.Fatalf("in use %d, want 950", got)
	}
	bg.release(950)
	if got := bg.inUse(); got != 0 {
		t.Fatalf("in use %d after release, want 0", got)
	}
}

// TestBytesBalanceUnderLoad: many senders of every kind and receivers at
// once; when all is received the queues hold zero bytes.
func TestBytesBalanceUnderLoad(t *testing.T) {
	b := New(WithByteBudget(64<<10), WithChannelSize(16))
	defer b.Close()
	for _, m := range []string{"a", "b"} {
		b.AddModule(m)
		_ = b.AddModuleGroup(m, "g")
	}
	s := b.Shedding(time.Millisecond)
	const perSender = 300
	var received sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, m := range []string{"a", "b"} {
		received.Add(1)
		go func() {
			defer received.Done()
			for {
				if _, err := b.Receive(ctx, m); err != nil {
					return
				}
			}
		}()
	}
	var senders sync.WaitGroup
	for k := range 4 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range perSender {
				m := sized(t, fmt.Sprint(k, "-", i), 300+(i*997)%(80<<10))
				switch k {
				case 0:
					_ = b.Send("a", m)
				case 1:
					_ = b.SendToGroup("g", m)
				case 2:
					_ = s.SendToGroup("g", m)
				case 3:
					_, _ = b.SendSync("b", m, time.Millisecond)
				}
			}
		}()
	}
	senders.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := b.Stats()
		if st["a"].Messages == 0 && st["b"].Messages == 0 {
			if st["a"].Bytes != 0 || st["b"].Bytes != 0 {
				t.Fatalf("empty queues still count bytes: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues not drained: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	received.Wait()
}

// waitWaiters waits until n senders wait for room in bg.
func waitWaiters(t *testing.T, bg *budget, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		bg.mu.Lock()
		got := len(bg.waiters)
		bg.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d senders wait for room, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShedWarningIsRateLimited: a flood of drops gives one warning per
// queue per interval, each saying how many were dropped since the last.
func TestShedWarningIsRateLimited(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	klog.SetLogger(funcr.New(func(_, args string) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(args, "stayed full") {
			lines = append(lines, args)
		}
	}, funcr.Options{}))
	t.Cleanup(klog.ClearLogger)
	logged := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}

	b := byteBus(t, 2048)
	s := b.Shedding(time.Microsecond)
	if err := b.Send("a", sized(t, "filler", 2000)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.Send("a", sized(t, fmt.Sprint(i), 1000)); !errors.Is(err, ErrQueueFull) {
			t.Fatal(err)
		}
	}
	if got := logged(); len(got) != 1 || !strings.Contains(got[0], "1 messages dropped since the last report, 1 in all") {
		t.Fatalf("warnings after 20 drops within the interval: %q, want one, for the first drop", got)
	}
	q := b.routes.Load().modules["a"]
	q.shed.lastLogNs.Store(time.Now().Add(-shedLogInterval).UnixNano()) // the interval has passed
	if err := s.Send("a", sized(t, "next", 1000)); !errors.Is(err, ErrQueueFull) {
		t.Fatal(err)
	}
	if got := logged(); len(got) != 2 || !strings.Contains(got[1], "20 messages dropped since the last report, 21 in all") {
		t.Fatalf("warnings once the interval passed: %q, want a second one counting the 20 since the first", got)
	}
}
