package outbox

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/model"
)

func openDB(t testing.TB, path string) *dbm.DB {
	t.Helper()
	db, err := dbm.Open(path, dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func msg(op, resource string) *model.Message {
	return model.NewMessage("").BuildRouter("edged", "meta", resource, op)
}

func drain(t *testing.T, o *Outbox) []string {
	t.Helper()
	var got []string
	for {
		e, err := o.Peek()
		if errors.Is(err, ErrEmpty) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Msg.Router.Operation+" "+e.Msg.Router.Resource)
		if err := o.Remove(e.Seq); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOutbox(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		push        []*model.Message
		want        []string
		wantDropped uint64
	}{
		{"fifo", 10, []*model.Message{msg("insert", "default/node/n"), msg("delete", "ns/pod/a")},
			[]string{"insert default/node/n", "delete ns/pod/a"}, 0},
		{"patch coalesces to newest", 10, []*model.Message{
			msg("patch", "default/nodepatch/n"), msg("delete", "ns/pod/a"), msg("patch", "default/nodepatch/n")},
			[]string{"delete ns/pod/a", "patch default/nodepatch/n"}, 0},
		{"oldest dropped when full", 2, []*model.Message{
			msg("insert", "a/event/1"), msg("insert", "a/event/2"), msg("insert", "a/event/3")},
			[]string{"insert a/event/2", "insert a/event/3"}, 1},
		{"dropped patch leaves no stale index", 1, []*model.Message{
			msg("patch", "ns/podpatch/p"), msg("insert", "a/event/1"), msg("patch", "ns/podpatch/p")},
			[]string{"patch ns/podpatch/p"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Open(openDB(t, filepath.Join(t.TempDir(), "db")), tt.max)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tt.push {
				if err := o.Push(m); err != nil {
					t.Fatal(err)
				}
			}
			if o.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", o.Len(), len(tt.want))
			}
			got := drain(t, o)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
			if o.Dropped() != tt.wantDropped {
				t.Errorf("Dropped = %d, want %d", o.Dropped(), tt.wantDropped)
			}
		})
	}
}

func TestOutboxSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openDB(t, path)
	o, _ := Open(db, 5)
	want := msg("patch", "default/nodepatch/n")
	want.Content = `{"status":{"phase":"Running"}}`
	if err := o.Push(want); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o, err := Open(openDB(t, path), 5)
	if err != nil {
		t.Fatal(err)
	}
	e, err := o.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if e.Msg.Header.ID != want.Header.ID || e.Msg.Content != want.Content {
		t.Fatalf("after reopen got %+v, want %+v", e.Msg, want)
	}
}

func TestOutboxSkipsCorruptEntry(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	o, _ := Open(db, 5)
	db.Update(func(tx *dbm.Tx) error {
		if err := addUint(tx, countKey, 1); err != nil {
			return err
		}
		return tx.Put(QueueTable, seqKey(0), []byte("{not json"))
	})
	o.Push(msg("insert", "a/event/1"))
	e, err := o.Peek()
	if err != nil || e.Msg.Router.Resource != "a/event/1" {
		t.Fatalf("Peek = %+v, %v; want the good entry after the corrupt one", e, err)
	}
	if o.Dropped() != 1 || o.Len() != 1 {
		t.Fatalf("Dropped = %d, Len = %d; want 1 and 1", o.Dropped(), o.Len())
	}
}

func BenchmarkPushPeekRemove(b *testing.B) {
	o, _ := Open(openDB(b, filepath.Join(b.TempDir(), "db")), 1024)
	m := msg("patch", "default/nodepatch/n")
	b.ReportAllocs()
	for b.Loop() {
		o.Push(m)
		e, _ := o.Peek()
		o.Remove(e.Seq)
	}
}
