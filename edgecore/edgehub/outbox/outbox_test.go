package outbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
			o, err := Open(openDB(t, filepath.Join(t.TempDir(), "db")), Limits{Entries: tt.max, Bytes: 1 << 20})
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
	o, _ := Open(db, Limits{Entries: 5, Bytes: 1 << 20})
	want := msg("patch", "default/nodepatch/n").FillBody(`{"status":{"phase":"Running"}}`)
	if err := o.Push(want); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o, err := Open(openDB(t, path), Limits{Entries: 5, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	e, err := o.Peek()
	if err != nil {
		t.Fatal(err)
	}
	if e.Msg.Header.ID != want.Header.ID || string(e.Msg.Content) != string(want.Content) {
		t.Fatalf("after reopen got %+v, want %+v", e.Msg, want)
	}
}

func TestOutboxSkipsCorruptEntry(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	o, _ := Open(db, Limits{Entries: 5, Bytes: 1 << 20})
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
	o, _ := Open(openDB(b, filepath.Join(b.TempDir(), "db")), Limits{Entries: 1024, Bytes: 1 << 20})
	m := msg("patch", "default/nodepatch/n")
	b.ReportAllocs()
	for b.Loop() {
		o.Push(m)
		e, _ := o.Peek()
		o.Remove(e.Seq)
	}
}

func TestOutboxByteLimit(t *testing.T) {
	o, err := Open(openDB(t, filepath.Join(t.TempDir(), "db")), Limits{Entries: 100, Bytes: 1200})
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 200) // each entry encodes to some 400 bytes
	for i := range 5 {
		if err := o.Push(msg("insert", fmt.Sprintf("a/event/%d", i)).FillBody(body)); err != nil {
			t.Fatal(err)
		}
		if o.Bytes() > 1200 {
			t.Fatalf("after push %d the outbox holds %d bytes, over its 1200", i, o.Bytes())
		}
	}
	got := drain(t, o)
	if len(got) == 0 || len(got) >= 5 || got[len(got)-1] != "insert a/event/4" {
		t.Fatalf("kept %q; want the newest few", got)
	}
	if o.Dropped() != uint64(5-len(got)) || o.Bytes() != 0 || o.Len() != 0 {
		t.Fatalf("Dropped %d, Bytes %d, Len %d after draining %d of 5", o.Dropped(), o.Bytes(), o.Len(), len(got))
	}
}

func TestOutboxRefusesMessageLargerThanItself(t *testing.T) {
	o, _ := Open(openDB(t, filepath.Join(t.TempDir(), "db")), Limits{Entries: 10, Bytes: 1000})
	if err := o.Push(msg("insert", "a/event/small")); err != nil {
		t.Fatal(err)
	}
	err := o.Push(msg("insert", "a/event/huge").FillBody(strings.Repeat("x", 2000)))
	if err == nil || !strings.Contains(err.Error(), "a/event/huge") || !strings.Contains(err.Error(), "more than the whole outbox holds") {
		t.Fatalf("Push of a 2000-byte message into a 1000-byte outbox: %v", err)
	}
	if got := drain(t, o); len(got) != 1 || got[0] != "insert a/event/small" || o.Dropped() != 0 {
		t.Fatalf("outbox holds %q, dropped %d; the refusal must not cost what was queued", got, o.Dropped())
	}
}

// Next walks the queue without removing anything: a flush sends every
// entry and removes each only once the cloud confirmed it.
func TestOutboxNextLeavesEntries(t *testing.T) {
	o, _ := Open(openDB(t, filepath.Join(t.TempDir(), "db")), Limits{Entries: 10, Bytes: 1 << 20})
	for _, r := range []string{"a/event/1", "a/event/2", "a/event/3"} {
		o.Push(msg("insert", r))
	}
	var seqs []uint64
	var after uint64
	for {
		e, err := o.Next(after)
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs, after = append(seqs, e.Seq), e.Seq
	}
	if len(seqs) != 3 || o.Len() != 3 {
		t.Fatalf("walked %v, Len %d; want 3 entries walked and all still queued", seqs, o.Len())
	}
	if err := o.Remove(seqs[1]); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, o); len(got) != 2 || got[0] != "insert a/event/1" || got[1] != "insert a/event/3" {
		t.Fatalf("after removing the middle entry: %q", got)
	}
}

// A store written before the outbox kept its size gets it counted on open.
func TestOutboxCountsBytesOfOlderStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db := openDB(t, path)
	o, _ := Open(db, Limits{Entries: 10, Bytes: 1 << 20})
	o.Push(msg("insert", "a/event/1"))
	o.Push(msg("insert", "a/event/2"))
	want := o.Bytes()
	if err := db.Update(func(tx *dbm.Tx) error { return tx.Delete(StateTable, bytesKey) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o, err := Open(openDB(t, path), Limits{Entries: 10, Bytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 || o.Bytes() != want {
		t.Fatalf("Bytes after reopen = %d, want %d", o.Bytes(), want)
	}
	drain(t, o)
	if o.Bytes() != 0 {
		t.Fatalf("Bytes after draining = %d", o.Bytes())
	}
}

func TestOpenRefusesNoLimits(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	for _, lim := range []Limits{{Entries: 0, Bytes: 1}, {Entries: 1, Bytes: 0}} {
		if _, err := Open(db, lim); err == nil {
			t.Errorf("Open(%+v) accepted limits that allow nothing", lim)
		}
	}
}
