package containerlog

import (
	"bytes"
	"io"
)

// splitter cuts one output stream into record texts the way containerd's CRI
// logger does, holding at most maxLine+2 bytes whatever the input: a line
// without a newline is emitted in P pieces as soon as it is known to be longer
// than maxLine.
//
// The rules, for a line of text T:
//   - ended by "\n": one trailing "\r" is dropped; T is cut into maxLine-byte
//     P pieces and the remainder (which may be a full maxLine bytes, and is
//     empty only for an empty line) is the F record;
//   - ended by the end of the stream: T is cut the same way, and every piece,
//     the last included, is P.
//
// The two bytes beyond maxLine are what the rules need to see before cutting:
// whether the byte after maxLine bytes is the "\n" (then the line fits in one
// F) or a "\r" that a following "\n" would turn into a line ending.
type splitter struct {
	buf     []byte
	start   int // first byte not yet emitted
	end     int // end of the data read
	scanned int // buf[start:scanned] is known to hold no '\n'
	maxLine int
}

func newSplitter(maxLine int) *splitter {
	return &splitter{buf: make([]byte, maxLine+2), maxLine: maxLine}
}

// fill reads once from r into the free space after moving pending bytes to
// the front. It must only be called after next has returned everything it
// could, which guarantees free space.
func (s *splitter) fill(r io.Reader) (int, error) {
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.scanned -= s.start
		s.start, s.end = 0, n
	}
	n, err := r.Read(s.buf[s.end:])
	s.end += n
	return n, err
}

// next returns the next record text and whether it is partial. ok is false
// when the buffered bytes do not yet decide a record; with eof set, everything
// left is emitted as P pieces. text aliases the buffer until the next fill.
func (s *splitter) next(eof bool) (text []byte, partial, ok bool) {
	p := s.buf[s.start:s.end]
	if i := bytes.IndexByte(s.buf[s.scanned:s.end], '\n'); i >= 0 {
		nl := s.scanned - s.start + i
		line := p[:nl]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) <= s.maxLine {
			s.advance(nl + 1)
			return line, false, true
		}
		return s.piece(s.maxLine), true, true
	}
	s.scanned = s.end
	switch {
	case eof && len(p) > 0:
		return s.piece(min(len(p), s.maxLine)), true, true
	case len(p) > s.maxLine+1, len(p) == s.maxLine+1 && p[s.maxLine] != '\r':
		return s.piece(s.maxLine), true, true
	}
	return nil, false, false
}

// piece emits the first n pending bytes.
func (s *splitter) piece(n int) []byte {
	text := s.buf[s.start : s.start+n]
	s.advance(n)
	return text
}

func (s *splitter) advance(n int) {
	s.start += n
	s.scanned = max(s.scanned, s.start)
}
