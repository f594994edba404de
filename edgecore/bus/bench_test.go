package bus

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

func benchMessage() model.Message {
	return model.Message{
		Header:  model.Header{ID: "7d9c7c1e-3a5f-4a8e-9d4b-2f0c6b1e8a11", Timestamp: 1700000000000},
		Router:  model.Route{Source: "edgecontroller", Group: "resource", Operation: "insert", Resource: "default/pod/nginx"},
		Content: json.RawMessage(`"x"`),
	}
}

// BenchmarkSendReceive measures one Send plus one Receive, sender and
// receiver on different goroutines.
func BenchmarkSendReceive(b *testing.B) {
	bus := New()
	defer bus.Close()
	bus.AddModule("m")
	m := benchMessage()
	done := make(chan struct{})
	n := b.N
	go func() {
		defer close(done)
		ctx := context.Background()
		for i := 0; i < n; i++ {
			if _, err := bus.Receive(ctx, "m"); err != nil {
				panic(err)
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if err := bus.Send("m", m); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkSendSync measures a request/reply round trip through a module
// that answers every request with SendResp.
func BenchmarkSendSync(b *testing.B) {
	bus := New()
	bus.AddModule("m")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ok := json.RawMessage(`"OK"`)
	go func() {
		defer close(done)
		for {
			req, err := bus.Receive(ctx, "m")
			if err != nil {
				return
			}
			bus.SendResp(model.Message{Header: model.Header{ID: "r", ParentID: req.Header.ID}, Content: ok})
		}
	}()
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = "req-" + strconv.Itoa(i)
	}
	m := benchMessage()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Header.ID = ids[i%len(ids)]
		if _, err := bus.SendSync("m", m, time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cancel()
	<-done
	bus.Close()
}

// BenchmarkSendToGroup measures fan-out of one message to a group of three
// modules, each drained by its own goroutine.
func BenchmarkSendToGroup(b *testing.B) {
	bus := New()
	defer bus.Close()
	members := []string{"a", "b", "c"}
	for _, name := range members {
		bus.AddModule(name)
		_ = bus.AddModuleGroup(name, "g")
	}
	n := b.N
	done := make(chan struct{}, len(members))
	for _, name := range members {
		go func() {
			ctx := context.Background()
			for i := 0; i < n; i++ {
				if _, err := bus.Receive(ctx, name); err != nil {
					panic(err)
				}
			}
			done <- struct{}{}
		}()
	}
	m := benchMessage()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < n; i++ {
		if err := bus.SendToGroup("g", m); err != nil {
			b.Fatal(err)
		}
	}
	for range members {
		<-done
	}
}
