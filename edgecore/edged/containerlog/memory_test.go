package containerlog

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"testing"
)

// endlessLine is a reader of n bytes without a newline.
type endlessLine struct {
	left  int64
	chunk []byte
}

func (r *endlessLine) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.chunk)
	r.left -= int64(n)
	return n, nil
}

// countingFile stands in for the live file: it keeps the real (empty) file
// so that rotation works, and counts what would have been written.
type countingFile struct {
	*os.File
	counts *writeCounts
}

type writeCounts struct{ bytes, records, partial int64 }

func (f *countingFile) Write(p []byte) (int, error) {
	f.counts.bytes += int64(len(p))
	f.counts.records += int64(bytes.Count(p, []byte{'\n'}))
	f.counts.partial += int64(bytes.Count(p, []byte(" stdout P ")))
	return len(p), nil
}

func TestHugeLineStaysBoundedInMemory(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	counts := &writeCounts{}
	opts := defaultOptions()
	opts.openFile = func(p string) (logFile, error) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, err
		}
		return &countingFile{File: f, counts: counts}, nil
	}
	// Nothing reaches the disk, so the cap can be out of reach: rotations
	// allocate (directory listings), and this test is about the line.
	w, err := open(testPath(t), Limits{MaxBytes: 1 << 40}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	in := &endlessLine{left: size, chunk: bytes.Repeat([]byte{'x'}, 64<<10)}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := w.Copy(Stdout, in); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// The splitter's buffer (16 KiB) and small change; nothing that grows
	// with the line.
	const budget = 64 << 10
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("copying %d bytes allocated %d bytes", size, allocated)
	if allocated > budget {
		t.Errorf("copying a %d-byte line allocated %d bytes, budget %d", size, allocated, budget)
	}
	wantRecords := (size + MaxLineBytes - 1) / MaxLineBytes
	if counts.records != wantRecords || counts.partial != wantRecords {
		t.Errorf("wrote %d records (%d partial), want %d, all partial", counts.records, counts.partial, wantRecords)
	}
	if s := w.Stats(); s.DroppedRecords != 0 || s.Errors != 0 {
		t.Errorf("stats %+v, want nothing dropped", s)
	}
}
