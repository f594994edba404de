package model

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// worstFrame returns a valid cloud frame of about size bytes whose content
// is the costliest JSON to hold as Go values: an array of empty objects.
func worstFrame(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 64)
	b.WriteString(`{"header":{"msg_id":"flood","timestamp":1,"resourceversion":"1"},` +
		`"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/flood"},"content":[{}`)
	for b.Len() < size-2 {
		b.WriteString(`,{}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestDecodeHoldsTheFrameOnly: decoding a frame of tiny objects costs a
// handful of allocations and no second copy of the body (which shares the
// frame), instead of one map per object (about 45 times the frame's size).
func TestDecodeHoldsTheFrameOnly(t *testing.T) {
	frame := worstFrame(1 << 20)
	var m *Message
	allocs := testing.AllocsPerRun(5, func() {
		var err error
		if m, err = Decode(frame); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 50 {
		t.Errorf("Decode of a %d-byte frame of empty objects made %.0f allocations, want a handful", len(frame), allocs)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > int64(len(frame))/4 {
		t.Errorf("a decoded %d-byte frame holds %d more bytes of heap, want its body shared with the frame", len(frame), held)
	}
	if m.Size() < len(frame)-200 {
		t.Errorf("Size %d of a %d-byte frame's message: the content is not counted", m.Size(), len(frame))
	}
	runtime.KeepAlive(m)
}

// TestDecodeCopiesASmallBody: a body that is a small part of its frame is
// copied, so the message does not pin the frame (nor see it change).
func TestDecodeCopiesASmallBody(t *testing.T) {
	frame := []byte(`{"header":{"msg_id":"` + strings.Repeat("i", 200) + `"},"content":"OK"}`)
	m, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	copy(frame[bytes.Index(frame, []byte(`"OK"`)):], `"XX"`)
	if s, _ := m.ContentString(); s != "OK" {
		t.Fatalf("content %q after the frame changed, want a copy holding OK", s)
	}
}

// BenchmarkDecodeWorstFrame decodes one 8 MiB frame (edgehub's default
// frame limit) of empty objects; held-MiB is the heap the decoded message
// keeps beside the frame (the body shares the frame).
func BenchmarkDecodeWorstFrame(b *testing.B) {
	frame := worstFrame(8 << 20)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var held uint64
	for b.Loop() {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		m, err := Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
		runtime.KeepAlive(m)
		b.StartTimer()
	}
	b.ReportMetric(float64(held)/(1<<20), "held-MiB")
}
