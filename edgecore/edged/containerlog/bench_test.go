package containerlog

import (
	"strings"
	"testing"
)

// BenchmarkCopy measures Copy of 100-byte lines (99 characters and the
// newline) into a real file with kubelet's default limits, rotation included.
func BenchmarkCopy(b *testing.B) {
	input := strings.Repeat(strings.Repeat("x", 99)+"\n", 40000) // ~4 MB
	w, err := Open(Path(b.TempDir(), "default", "bench", "u1", "c", 0), Limits{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Copy(Stdout, strings.NewReader(input)); err != nil {
			b.Fatal(err)
		}
	}
	if s := w.Stats(); s.DroppedRecords != 0 {
		b.Fatalf("dropped %d records", s.DroppedRecords)
	}
}
