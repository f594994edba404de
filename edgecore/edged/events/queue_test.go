package events

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func named(name string, count int32, size int) *write {
	return &write{event: &v1.Event{ObjectMeta: metav1.ObjectMeta{Name: name}, Count: count}, series: &series{}, size: size}
}

// names lists the queue, oldest first, as name:count.
func names(q *queue) []string {
	var out []string
	for e := q.order.Front(); e != nil; e = e.Next() {
		w := e.Value.(*write)
		out = append(out, w.event.Name+":"+string(rune('0'+w.event.Count)))
	}
	return out
}

func TestQueue(t *testing.T) {
	for _, tt := range []struct {
		name    string
		steps   func(q *queue) []*write // returns what was dropped
		want    []string
		dropped []string
		bytes   int
	}{
		{"a repeat replaces the waiting write in its place", func(q *queue) []*write {
			q.put(named("a", 1, 100))
			q.put(named("b", 1, 100))
			return q.put(named("a", 2, 120))
		}, []string{"a:2", "b:1"}, nil, 220},
		{"past the bound the oldest go", func(q *queue) []*write {
			q.put(named("a", 1, 400))
			q.put(named("b", 1, 400))
			return q.put(named("c", 1, 400))
		}, []string{"b:1", "c:1"}, []string{"a"}, 800},
		{"a write larger than the bound is dropped itself", func(q *queue) []*write {
			q.put(named("a", 1, 100))
			return q.put(named("huge", 1, 5000))
		}, nil, []string{"a", "huge"}, 0},
		{"a write put back goes first", func(q *queue) []*write {
			q.put(named("a", 1, 100))
			q.put(named("b", 1, 100))
			w, _ := q.pop()
			return q.requeue(w)
		}, []string{"a:1", "b:1"}, nil, 200},
		{"a write put back yields to a newer one of its event", func(q *queue) []*write {
			q.put(named("a", 1, 100))
			q.put(named("b", 1, 100))
			w, _ := q.pop()
			q.put(named("a", 2, 100))
			return q.requeue(w)
		}, []string{"b:1", "a:2"}, nil, 200},
		{"a write put back into a full queue drops the oldest: itself", func(q *queue) []*write {
			q.put(named("a", 1, 500))
			w, _ := q.pop()
			q.put(named("b", 1, 500))
			q.put(named("c", 1, 500))
			return q.requeue(w)
		}, []string{"b:1", "c:1"}, []string{"a"}, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(1000)
			var dropped []string
			for _, w := range tt.steps(q) {
				dropped = append(dropped, w.event.Name)
			}
			if got := names(q); !slices.Equal(got, tt.want) || !slices.Equal(dropped, tt.dropped) || q.bytes != tt.bytes || q.dropped != uint64(len(tt.dropped)) {
				t.Fatalf("queue %v dropped %v (%d) bytes %d, want %v dropped %v bytes %d", got, dropped, q.dropped, q.bytes, tt.want, tt.dropped, tt.bytes)
			}
		})
	}
}
