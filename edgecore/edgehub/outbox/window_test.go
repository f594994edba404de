package outbox

import (
	"fmt"
	"testing"

	"github.com/edgegate/edgegate/edgecore/model"
)

func sent(i, size int) Sent {
	return Sent{Msg: *msg("patch", fmt.Sprintf("ns/podpatch/p%d", i)), Size: size}
}

func resources(s []Sent) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].Msg.Router.Resource
	}
	return out
}

// The session's use of a window: add as written, note the mark at each
// ping, release up to the mark of the ping answered, drain when the link
// is lost.
func TestWindow(t *testing.T) {
	w := NewWindow(4, 1000)
	if w.Full() || w.Mark() != 0 {
		t.Fatalf("empty window: Full %v Mark %d", w.Full(), w.Mark())
	}
	w.Add(sent(0, 100))
	w.Add(sent(1, 100))
	ping1 := w.Mark() // proves p0, p1
	if w.Full() {
		t.Fatal("2 of 4: Full")
	}
	w.Add(sent(2, 100))
	w.Add(sent(3, 100))
	if !w.Full() {
		t.Fatal("4 of 4 entries: not Full")
	}
	got := w.Release(ping1)
	if fmt.Sprint(resources(got)) != "[ns/podpatch/p0 ns/podpatch/p1]" || w.Len() != 2 || w.Bytes() != 200 || w.Full() {
		t.Fatalf("Release(%d) = %q; Len %d Bytes %d Full %v", ping1, resources(got), w.Len(), w.Bytes(), w.Full())
	}
	if again := w.Release(ping1); len(again) != 0 {
		t.Fatalf("a second answer to the same ping released %q", resources(again))
	}
	w.Add(sent(4, 100))
	if w.Mark() != 5 {
		t.Fatalf("Mark = %d after 5 adds", w.Mark())
	}
	left := w.Drain()
	if fmt.Sprint(resources(left)) != "[ns/podpatch/p2 ns/podpatch/p3 ns/podpatch/p4]" || w.Len() != 0 || w.Bytes() != 0 {
		t.Fatalf("Drain = %q, then Len %d Bytes %d", resources(left), w.Len(), w.Bytes())
	}
	if w.Mark() != 5 || len(w.Release(5)) != 0 {
		t.Fatal("a drained window must keep its marks and release nothing")
	}
}

func TestWindowFull(t *testing.T) {
	tests := []struct {
		name           string
		entries, bytes int
		sizes          []int
		wantFull       bool
	}{
		{"empty takes anything", 2, 100, nil, false},
		{"one huge message", 2, 100, []int{5000}, true},
		{"bytes reached", 10, 100, []int{60, 40}, true},
		{"bytes below", 10, 100, []int{60, 39}, false},
		{"entries reached", 2, 1 << 20, []int{1, 1}, true},
		{"below both", 4, 100, []int{10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(tt.entries, tt.bytes)
			for i, n := range tt.sizes {
				w.Add(sent(i, n))
			}
			if w.Full() != tt.wantFull {
				t.Fatalf("Full %v, want %v", w.Full(), tt.wantFull)
			}
		})
	}
}

// A window that cycles many times holds only what is in it.
func TestWindowCycles(t *testing.T) {
	w := NewWindow(8, 1<<20)
	for i := range 1000 {
		w.Add(Sent{Msg: model.Message{Content: make([]byte, 100)}, Size: 100})
		if i%4 == 3 {
			if got := w.Release(w.Mark()); len(got) != 4 {
				t.Fatalf("released %d, want 4", len(got))
			}
		}
	}
	if w.Len() != 0 || w.Bytes() != 0 || w.Mark() != 1000 {
		t.Fatalf("Len %d Bytes %d Mark %d", w.Len(), w.Bytes(), w.Mark())
	}
}
