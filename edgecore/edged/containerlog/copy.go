package containerlog

import (
	"errors"
	"fmt"
	"io"
)

// maxEmptyReads bounds consecutive reads that return neither data nor an
// error, as bufio does, so a broken reader cannot spin Copy forever.
const maxEmptyReads = 100

// Copy reads one stream of the container (stream is Stdout or Stderr) until
// EOF or a read error and writes it as CRI records. It returns nil at EOF and
// the read error otherwise; write failures are not returned but counted in
// Stats, and reading goes on regardless so that the container never blocks
// on a full pipe. Output left without a newline at the end is written as a P
// record, as containerd does.
func (w *Writer) Copy(stream string, r io.Reader) error {
	if err := checkStream(stream); err != nil {
		return fmt.Errorf("copy to log %s: %w", w.path, err)
	}
	s := newSplitter(w.opts.maxLine)
	empty := 0
	for {
		n, err := s.fill(r)
		w.writeRecords(stream, s, err != nil)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("read %s for log %s: %w", stream, w.path, err)
		case n > 0:
			empty = 0
		default:
			empty++
			if empty >= maxEmptyReads {
				return fmt.Errorf("read %s for log %s: %w", stream, w.path, io.ErrNoProgress)
			}
		}
	}
}

// writeRecords writes every record the splitter can cut and flushes them in
// one write, holding the lock once per read rather than once per line.
func (w *Writer) writeRecords(stream string, s *splitter, eof bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stampLocked()
	for {
		text, partial, ok := s.next(eof)
		if !ok {
			break
		}
		w.appendLocked(stream, partial, text)
	}
	w.flushLocked()
}
