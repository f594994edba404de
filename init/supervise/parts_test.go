package supervise

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Minute, Stable: 2 * time.Minute}
	tests := []struct {
		name         string
		failures     int
		ranFor       time.Duration
		wantFailures int
		wantDelay    time.Duration
	}{
		{"first crash", 0, 0, 1, time.Second},
		{"second", 1, time.Second, 2, 2 * time.Second},
		{"third", 2, 0, 3, 4 * time.Second},
		{"sixth", 5, 0, 6, 32 * time.Second},
		{"capped", 6, 0, 7, time.Minute},
		{"stays capped", 40, 0, 41, time.Minute},
		{"just short of stable", 6, 2*time.Minute - 1, 7, time.Minute},
		{"stable run resets", 6, 2 * time.Minute, 1, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d := b.Next(tt.failures, tt.ranFor)
			if f != tt.wantFailures || d != tt.wantDelay {
				t.Fatalf("Next(%d, %v) = %d, %v; want %d, %v", tt.failures, tt.ranFor, f, d, tt.wantFailures, tt.wantDelay)
			}
		})
	}
}

func TestRingKeepsLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"fits", 8, []string{"abc", "de"}, "abcde"},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd"},
		{"wraps", 4, []string{"abc", "def"}, "cdef"},
		{"one write larger than ring", 4, []string{"x", "0123456789"}, "6789"},
		{"wraps many times", 3, []string{"ab", "cd", "ef", "g"}, "efg"},
		{"zero size keeps nothing", 0, []string{"abc"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(tt.size)
			total := 0
			for _, w := range tt.writes {
				n, err := r.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v", n, err)
				}
				total += n
			}
			if got := string(r.Bytes()); got != tt.want {
				t.Fatalf("Bytes = %q, want %q", got, tt.want)
			}
			if r.Total() != int64(total) {
				t.Fatalf("Total = %d, want %d", r.Total(), total)
			}
		})
	}
}

func TestRotatingFileCapsSizes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.log")
	const maxBytes, keep = 1000, 2
	r, err := OpenRotating(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for i := 0; i < 200; i++ {
		line := fmt.Sprintf("line %04d %s\n", i, strings.Repeat("x", i%50))
		all.WriteString(line)
		if _, err := r.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte("B"), 2500) // larger than the cap: split over files
	all.Write(big)
	if _, err := r.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var kept []byte
	for _, name := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > maxBytes {
			t.Errorf("%s is %d bytes, cap %d", name, len(b), maxBytes)
		}
		kept = append(kept, b...)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists; keep is %d", path, keep)
	}
	if !bytes.HasSuffix(all.Bytes(), kept) {
		t.Fatal("rotated files are not the tail of what was written, in order")
	}
	if !bytes.HasSuffix(kept, big) {
		t.Fatal("the write larger than the cap was not kept whole across files")
	}
}

func TestRotatingFileAppendsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	for _, s := range []string{"before reboot\n", "after reboot\n"} {
		r, err := OpenRotating(path, 1<<20, 1)
		if err != nil {
			t.Fatal(err)
		}
		r.Write([]byte(s))
		r.Close()
	}
	got, _ := os.ReadFile(path)
	if string(got) != "before reboot\nafter reboot\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestLinePrefixer(t *testing.T) {
	var out bytes.Buffer
	q := newConsoleQueue(&out)
	l := newLinePrefixer("edgecore", q)
	l.Write([]byte("hello\nwor"))
	l.Write([]byte("ld\n\npartial"))
	l.Write(bytes.Repeat([]byte("z"), maxLine+10))
	l.flush()
	l.Write(append(bytes.Repeat([]byte("y"), maxLine), '\n'))
	q.close(t.Context())
	want := "edgecore: hello\nedgecore: world\nedgecore: \nedgecore: partial" + strings.Repeat("z", maxLine-len("partial")) +
		"\nedgecore: " + strings.Repeat("z", 17) + "\nedgecore: " + strings.Repeat("y", maxLine) + "\n"
	if out.String() != want {
		t.Fatalf("console got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestConsoleQueueDropsWhenFull(t *testing.T) {
	block := make(chan struct{})
	w := &blockingWriter{release: block}
	q := newConsoleQueue(w)
	for i := 0; i < consoleQueueLines+50; i++ {
		q.put([]byte("x\n"))
	}
	close(block)
	q.close(t.Context())
	if !strings.Contains(w.buf.String(), "lines dropped") {
		t.Fatal("no note of dropped lines")
	}
}

type blockingWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.buf.Write(p)
}

func BenchmarkRingWrite(b *testing.B) {
	r := NewRing(64 << 10)
	line := []byte("I0101 00:00:00.000000  123 edged.go:42] pod default/web-0 synced, 3 containers running\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		r.Write(line)
	}
}

func BenchmarkOutputWrite(b *testing.B) {
	f, err := OpenRotating(filepath.Join(b.TempDir(), "svc.log"), 1<<20, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	o := &output{name: "svc", ring: NewRing(64 << 10), file: f}
	line := []byte("I0101 00:00:00.000000  123 edged.go:42] pod default/web-0 synced, 3 containers running\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		o.Write(line)
	}
}
