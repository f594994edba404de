package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Stream names as they appear in the CRI log format.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// MaxLineBytes is the longest text one record carries; longer lines are cut
// into P records of this size. It is containerd's default
// max_container_log_line_size.
const MaxLineBytes = 16 * 1024

// timestampLayout is what containerd's CRI logger writes and kubelet parses.
const timestampLayout = time.RFC3339Nano

// Record tags. kubelet reads only the part before the first ':' of a tag, to
// stay compatible with tags extended later.
const (
	tagFull    = 'F'
	tagPartial = 'P'
)

// recordOverhead is the bytes of a record besides timestamp, stream and text:
// three delimiters, the tag and the newline.
const recordOverhead = 5

// appendRecord appends one CRI log record to dst. ts is the formatted
// timestamp.
func appendRecord(dst, ts []byte, stream string, partial bool, text []byte) []byte {
	tag := byte(tagFull)
	if partial {
		tag = tagPartial
	}
	dst = append(dst, ts...)
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	dst = append(dst, ' ', tag, ' ')
	dst = append(dst, text...)
	return append(dst, '\n')
}

// record is one parsed CRI log line.
type record struct {
	time    time.Time
	stream  string
	partial bool
	text    []byte // aliases the parsed line
}

// parseRecord parses one log line without its newline, as kubelet's
// parseCRILog does.
func parseRecord(line []byte) (record, error) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return record{}, errors.New("no timestamp")
	}
	t, err := time.Parse(timestampLayout, string(ts))
	if err != nil {
		return record{}, fmt.Errorf("timestamp: %w", err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return record{}, errors.New("no stream")
	}
	var r record
	switch string(stream) {
	case Stdout:
		r.stream = Stdout
	case Stderr:
		r.stream = Stderr
	default:
		return record{}, fmt.Errorf("unknown stream %q", stream)
	}
	tag, text, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return record{}, errors.New("no tag")
	}
	tag, _, _ = bytes.Cut(tag, []byte{':'})
	r.time, r.partial, r.text = t, string(tag) == string(tagPartial), text
	return r, nil
}

// checkStream rejects stream names the CRI format does not have.
func checkStream(stream string) error {
	if stream != Stdout && stream != Stderr {
		return fmt.Errorf("stream %q is neither %s nor %s", stream, Stdout, Stderr)
	}
	return nil
}
