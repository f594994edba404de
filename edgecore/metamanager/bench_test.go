package metamanager

import (
	"fmt"
	"strings"
	"testing"
)

var podValue = `{"metadata":{"name":"nginx","namespace":"default","uid":"0f6c2f4e-7d7a-4c51-9a53-6b1f2e9d1a77"},` +
	`"spec":{"nodeName":"edge1","containers":[{"name":"nginx","image":"nginx:1.27"}]}` + strings.Repeat(" ", 600) + `}`

// BenchmarkStoreInsert is one row per transaction, each committed to disk.
func BenchmarkStoreInsert(b *testing.B) {
	s := newStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Save(Meta{Key: fmt.Sprintf("default/pod/p%d", i), Type: "pod", Value: podValue}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreInsertBatched writes 100 rows per transaction; ns/op is
// per row.
func BenchmarkStoreInsertBatched(b *testing.B) {
	const batch = 100
	s := newStore(b)
	rows := make([]Meta, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows = append(rows, Meta{Key: fmt.Sprintf("default/pod/p%d", i), Type: "pod", Value: podValue})
		if len(rows) == batch || i == b.N-1 {
			if err := s.Save(rows...); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
}

func filledStore(b *testing.B, n int) *Store {
	s := newStore(b)
	rows := make([]Meta, 0, n)
	for i := 0; i < n; i++ {
		rows = append(rows, Meta{Key: fmt.Sprintf("default/pod/p%d", i), Type: "pod", Value: podValue})
		rows = append(rows, Meta{Key: fmt.Sprintf("default/configmap/c%d", i), Type: "configmap", Value: "{}"})
	}
	if err := s.Save(rows...); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkStoreQuery reads one row by key from 2000 rows.
func BenchmarkStoreQuery(b *testing.B) {
	s := filledStore(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := s.Get("default/pod/p500"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkStoreQueryList lists the 100 pods among 200 rows (edged's start
// query); ns/op is per list.
func BenchmarkStoreQueryList(b *testing.B) {
	s := filledStore(b, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := s.ListByType("pod")
		if err != nil || len(rows) != 100 {
			b.Fatal(len(rows), err)
		}
	}
}
