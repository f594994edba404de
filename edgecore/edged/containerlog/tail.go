package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// tailChunk is how much Tail reads at a time, from the end backwards.
const tailChunk = 32 << 10

// maxTailRecord bounds one line Tail will hold while searching for its start;
// longer lines are not CRI records of ours and are skipped.
const maxTailRecord = 4 * MaxLineBytes

// Tail returns the text of the last n lines of a container log, reading the
// live file and then the rotated files newest first, only as far back as
// needed. A line is what the container wrote: its P pieces are joined with
// the F record that ends it, per stream, and a trailing line without newline
// is included. Lines that are not CRI records are skipped. n <= 0 returns
// nothing. A log rotated while Tail reads it may lose or repeat lines at the
// seam; Tail is for display, not for shipping logs.
func Tail(path string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	files, err := tailFiles(path)
	if err != nil {
		return nil, fmt.Errorf("tail log %s: %w", path, err)
	}
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	t := newTailer(n)
	for _, f := range files {
		if err := t.readFile(f); err != nil {
			return nil, fmt.Errorf("tail log %s: %w", path, err)
		}
		if t.done() {
			break
		}
	}
	return t.lines(), nil
}

// tailFiles opens the live file and the rotated ones, newest first. The live
// file is opened first, so if it is rotated meanwhile its new name shows up
// in the listing and is recognised as the same file.
func tailFiles(path string) ([]*os.File, error) {
	var files []*os.File
	live, err := os.Open(path)
	switch {
	case err == nil:
		files = append(files, live)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	rotated, err := listRotated(path)
	if err != nil {
		closeAll(files)
		return nil, err
	}
	for _, p := range slices.Backward(rotated) {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			closeAll(files)
			return nil, err
		}
		if live != nil && sameFile(live, f) {
			_ = f.Close()
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fs.ErrNotExist
	}
	return files, nil
}

func sameFile(a, b *os.File) bool {
	sa, errA := a.Stat()
	sb, errB := b.Stat()
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// tailer assembles lines from records seen newest first. Line k (0 = the
// newest) starts at its last record; the P records before it in the same
// stream are prepended until that stream's previous F, which ends the line
// before it.
type tailer struct {
	n     int
	found [][][]byte     // per line, its pieces newest first
	open  map[string]int // per stream, the line still collecting pieces
	reads int            // lines started
}

func newTailer(n int) *tailer {
	return &tailer{n: n, open: map[string]int{}}
}

// add takes the next older record.
func (t *tailer) add(r record) {
	k, collecting := t.open[r.stream]
	if collecting && r.partial {
		t.found[k] = append(t.found[k], bytes.Clone(r.text))
		return
	}
	// An F record, or a P record with no line open in its stream (output that
	// ended without a newline), is the last record of an older line.
	delete(t.open, r.stream)
	if t.reads == t.n {
		return
	}
	t.found = append(t.found, [][]byte{bytes.Clone(r.text)})
	t.open[r.stream] = t.reads
	t.reads++
}

// done reports whether all n lines are found and complete.
func (t *tailer) done() bool {
	return t.reads == t.n && len(t.open) == 0
}

// lines returns the found lines oldest first.
func (t *tailer) lines() []string {
	out := make([]string, 0, len(t.found))
	for _, pieces := range slices.Backward(t.found) {
		var b bytes.Buffer
		for _, p := range slices.Backward(pieces) {
			b.Write(p)
		}
		out = append(out, b.String())
	}
	return out
}

// readFile feeds the records of one file to the tailer, newest first, until
// the tailer is done.
func (t *tailer) readFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	rl := reverseLines{f: f, off: st.Size()}
	for !t.done() {
		line, err := rl.prev()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
		if r, err := parseRecord(line); err == nil {
			t.add(r)
		}
	}
	return nil
}

// reverseLines yields a file's lines last to first, reading tailChunk bytes
// at a time from the end.
type reverseLines struct {
	f       *os.File
	off     int64  // bytes before off are not read yet
	pending []byte // bytes read but not yet returned, starting at off
	tooLong bool   // pending is the tail of a line longer than maxTailRecord
}

// prev returns the previous non-empty line without its newline; it aliases
// internal memory until the next call. io.EOF marks the start of the file.
func (r *reverseLines) prev() ([]byte, error) {
	for {
		if i := bytes.LastIndexByte(r.pending, '\n'); i >= 0 {
			line, skip := r.pending[i+1:], r.tooLong
			r.pending, r.tooLong = r.pending[:i], false
			if len(line) > 0 && !skip {
				return line, nil
			}
			continue
		}
		if r.off == 0 {
			line, skip := r.pending, r.tooLong
			r.pending, r.tooLong = nil, false
			if len(line) > 0 && !skip {
				return line, nil
			}
			return nil, io.EOF
		}
		if err := r.readChunk(); err != nil {
			return nil, err
		}
	}
}

// readChunk prepends the tailChunk bytes before off to pending, dropping
// pending first when it already exceeds maxTailRecord without a newline.
func (r *reverseLines) readChunk() error {
	if len(r.pending) > maxTailRecord {
		r.pending, r.tooLong = r.pending[:0], true
	}
	n := min(int64(tailChunk), r.off)
	buf := make([]byte, int(n)+len(r.pending))
	if _, err := r.f.ReadAt(buf[:n], r.off-n); err != nil {
		return err
	}
	copy(buf[n:], r.pending)
	r.off -= n
	r.pending = buf
	return nil
}
