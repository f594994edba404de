package metamanager

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/edgecore/dbm"
)

func newStore(t testing.TB) *Store {
	db, err := dbm.Open(filepath.Join(t.TempDir(), "edgecore.db"), dbm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s, err := NewStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	s := newStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Save(
		Meta{Key: "default/pod/a", Type: "pod", Value: `{"metadata":{"uid":"u1"}}`},
		Meta{Key: "kube-system/pod/b", Type: "pod", Value: "B"},
		Meta{Key: "default/configmap/c", Type: "configmap", Value: "C"},
		Meta{Key: "default/podpatch/a", Type: "podpatch", Value: "P"},
	))
	tests := []struct {
		name string
		op   func() error
		list string
		want string
	}{
		{name: "list pods", list: "pod", want: "[default/pod/a kube-system/pod/b]"},
		{name: "list configmaps", list: "configmap", want: "[default/configmap/c]"},
		{name: "list unknown type", list: "secret", want: "[]"},
		{name: "type change moves index", op: func() error { return s.Save(Meta{Key: "default/configmap/c", Type: "secret", Value: "S"}) },
			list: "configmap", want: "[]"},
		{name: "…to the new type", list: "secret", want: "[default/configmap/c]"},
		{name: "delete with wrong uid keeps row", op: func() error { _, err := s.Delete("default/pod/a", "u2"); return err },
			list: "pod", want: "[default/pod/a kube-system/pod/b]"},
		{name: "delete with uid", op: func() error { _, err := s.Delete("default/pod/a", "u1"); return err },
			list: "pod", want: "[kube-system/pod/b]"},
		{name: "unconditional delete", op: func() error { _, err := s.Delete("kube-system/pod/b", ""); return err },
			list: "pod", want: "[]"},
		{name: "empty key rejected", op: func() error {
			if err := s.Save(Meta{}); err == nil {
				return errors.New("saved an empty key")
			}
			return nil
		}, list: "podpatch", want: "[default/podpatch/a]"},
	}
	for _, tt := range tests {
		if tt.op != nil {
			if err := tt.op(); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		rows, err := s.ListByType(tt.list)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{}
		for _, r := range rows {
			keys = append(keys, r.Key)
		}
		if got := fmt.Sprint(keys); got != tt.want {
			t.Errorf("%s: list %s = %s, want %s", tt.name, tt.list, got, tt.want)
		}
	}
	if m, ok, _ := s.Get("default/configmap/c"); !ok || m.Value != "S" || m.Type != "secret" {
		t.Fatalf("Get = %+v %v", m, ok)
	}
}

func TestDecodeMalformedRow(t *testing.T) {
	for _, b := range [][]byte{nil, {0x80}, {0x05, 'a'}} {
		if _, err := decode("k", b); !errors.Is(err, dbm.ErrCorrupt) {
			t.Errorf("decode(%v) = %v", b, err)
		}
	}
	m, err := decode("k", encode(Meta{Type: "pod", Value: "v"}))
	if err != nil || m.Type != "pod" || m.Value != "v" {
		t.Fatalf("round trip %+v %v", m, err)
	}
}
