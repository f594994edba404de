package containerlog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Kubelet's defaults for containerLogMaxSize and containerLogMaxFiles.
const (
	DefaultMaxBytes = 10 << 20
	DefaultMaxFiles = 5
)

// outBufferBytes bounds the records buffered between two writes to the file.
// Batching matters: one write per record would cost a system call for every
// short line.
const outBufferBytes = 32 << 10

// Limits caps the disk space of one container log.
type Limits struct {
	// MaxBytes is the most a file may hold (default DefaultMaxBytes). A single
	// record longer than that still gets a file of its own.
	MaxBytes int64
	// MaxFiles is the most files kept, the live one included (default
	// DefaultMaxFiles). As in kubelet it must be at least 2.
	MaxFiles int
}

// withDefaults fills zero fields and rejects what kubelet's validation
// rejects.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxBytes < 0 {
		return l, fmt.Errorf("log limit MaxBytes %d is negative", l.MaxBytes)
	}
	if l.MaxFiles < 2 {
		return l, fmt.Errorf("log limit MaxFiles %d is below 2 (the live file and one rotated file)", l.MaxFiles)
	}
	return l, nil
}

// Stats are a Writer's counters since Open.
type Stats struct {
	// DroppedBytes counts container output (record text, not the CRI
	// header) that could not be written.
	DroppedBytes int64
	// DroppedRecords counts the records that could not be written.
	DroppedRecords int64
	// Rotations counts live files renamed to rotated ones.
	Rotations int64
	// Errors counts failed file operations; LastError is the latest.
	Errors    int64
	LastError error
}

// logFile is what the Writer needs of its live file. Tests substitute it to
// inject failures.
type logFile interface {
	io.Writer
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// options are the Writer's seams for tests.
type options struct {
	openFile func(path string) (logFile, error)
	maxLine  int
}

func defaultOptions() options {
	return options{openFile: openAppend, maxLine: MaxLineBytes}
}

// openAppend opens the live file as containerd's logger does.
func openAppend(path string) (logFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
}

// Writer writes the CRI records of one container run to a size-capped,
// rotated file. Copy may run concurrently for stdout and stderr; records are
// never interleaved below the record level.
type Writer struct {
	path   string
	limits Limits
	now    func() time.Time
	opts   options

	mu     sync.Mutex
	f      logFile // nil while the live file cannot be opened; retried on the next flush
	size   int64   // bytes in the live file
	torn   bool    // the live file ends inside a record: start the next write with '\n'
	closed bool
	out    []byte // records not yet written, at most outBufferBytes unless one record is larger
	outRec int64  // records in out
	outTxt int64  // record text bytes in out
	ts     []byte // scratch for the timestamp
	stats  Stats
}

// Open opens (or creates, with its directories) the live log file at path for
// appending, as after an edgecore restart, and trims rotated files beyond
// the limits. now stamps records and rotated files; nil means time.Now.
func Open(path string, l Limits, now func() time.Time) (*Writer, error) {
	return open(path, l, now, defaultOptions())
}

func open(path string, l Limits, now func() time.Time, opts options) (*Writer, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	w := &Writer{
		path:   path,
		limits: l,
		now:    now,
		opts:   opts,
		out:    make([]byte, 0, outBufferBytes),
		ts:     make([]byte, 0, len(timestampLayout)+8),
	}
	if err := w.openLive(); err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	// Limits may have shrunk since the files were written. Failing to trim
	// is no reason to lose the container's output: it is counted instead.
	if err := w.prune(); err != nil {
		w.failLocked(err)
	}
	return w, nil
}

// openLive opens the live file and learns its size and whether a crash left
// it ending inside a record.
func (w *Writer) openLive() error {
	f, err := w.opts.openFile(w.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	w.f, w.size = f, st.Size()
	w.torn = w.size > 0 && !endsWithNewline(w.path, w.size)
	return nil
}

// endsWithNewline reports whether the file's last byte is '\n'. When that
// cannot be read it answers false: an extra empty line is harmless, gluing a
// new record to a torn one is not.
func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	var b [1]byte
	_, err = f.ReadAt(b[:], size-1)
	return err == nil && b[0] == '\n'
}

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Close writes what is buffered and closes the live file. Copy calls still
// running afterwards keep draining their readers and count what they read as
// dropped; callers should close the readers first.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.flushLocked()
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close log %s: %w", w.path, err)
	}
	return nil
}

// stampLocked takes the time for the records that follow. One reading
// serves all records cut from one read: they reached edgecore together, and
// reading and formatting the clock per record would cost a third of the CPU
// spent on short lines. It is taken under the lock so that timestamps never
// go backwards within a file.
func (w *Writer) stampLocked() {
	w.ts = w.now().AppendFormat(w.ts[:0], timestampLayout)
}

// appendLocked adds one record stamped with the last stampLocked time,
// rotating first if it would take the live file past MaxBytes.
func (w *Writer) appendLocked(stream string, partial bool, text []byte) {
	if w.closed {
		w.dropLocked(1, int64(len(text)))
		return
	}
	n := int64(len(w.ts) + len(stream) + len(text) + recordOverhead)
	if w.pendingLocked() > 0 && w.pendingLocked()+n > w.limits.MaxBytes {
		w.flushLocked()
		w.rotateLocked()
		if w.size > 0 {
			// Rotation failed and could not empty the file either: dropping is
			// what keeps the cap.
			w.dropLocked(1, int64(len(text)))
			return
		}
	}
	if len(w.out) > 0 && len(w.out)+int(n) > cap(w.out) {
		w.flushLocked()
	}
	w.out = appendRecord(w.out, w.ts, stream, partial, text)
	w.outRec++
	w.outTxt += int64(len(text))
}

// pendingLocked is the size the live file will have once out is written.
func (w *Writer) pendingLocked() int64 {
	n := w.size + int64(len(w.out))
	if w.torn && len(w.out) > 0 {
		n++
	}
	return n
}

// flushLocked writes out to the live file. On failure the batch is dropped,
// not kept: holding it would either grow without bound or block the
// container; the next batch tries again.
func (w *Writer) flushLocked() {
	if len(w.out) == 0 {
		return
	}
	defer w.resetOut()
	if w.f == nil {
		if err := w.openLive(); err != nil {
			w.failLocked(fmt.Errorf("reopen log %s: %w", w.path, err))
			w.dropLocked(w.outRec, w.outTxt)
			return
		}
	}
	data := w.out
	if w.torn {
		// The previous record is incomplete: end it so that only that record
		// is unreadable, not the ones after it.
		data = append(w.out[:0:0], '\n')
		data = append(data, w.out...)
	}
	n, err := w.f.Write(data)
	if err == nil {
		w.size += int64(n)
		w.torn = false
		return
	}
	w.failLocked(fmt.Errorf("write log %s: %w", w.path, err))
	w.dropLocked(w.outRec, w.outTxt)
	if n > 0 {
		w.undoPartialWrite(int64(n))
	}
}

// undoPartialWrite cuts a short write (a disk that filled up mid-batch) off
// the file so that no record is left half written.
func (w *Writer) undoPartialWrite(n int64) {
	if err := w.f.Truncate(w.size); err != nil {
		w.failLocked(fmt.Errorf("truncate log %s after a short write: %w", w.path, err))
		w.size += n
		w.torn = true
	}
}

func (w *Writer) resetOut() {
	w.out, w.outRec, w.outTxt = w.out[:0], 0, 0
	if cap(w.out) > outBufferBytes {
		// Only a record longer than the buffer grows it, which takes a
		// MaxLineBytes above outBufferBytes; keep the bound even then.
		w.out = make([]byte, 0, outBufferBytes)
	}
}

// rotateLocked renames the live file to a rotated name, removes the oldest
// rotated files and starts a new live file.
func (w *Writer) rotateLocked() {
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			w.failLocked(fmt.Errorf("close log %s for rotation: %w", w.path, err))
		}
		w.f = nil
	}
	if err := w.renameLive(); err != nil {
		w.failLocked(fmt.Errorf("rotate log %s: %w", w.path, err))
		// Without rotation the history goes, so that the cap holds.
		if err := os.Truncate(w.path, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.failLocked(fmt.Errorf("truncate log %s after failed rotation: %w", w.path, err))
		}
	} else {
		w.stats.Rotations++
	}
	if err := w.prune(); err != nil {
		w.failLocked(err)
	}
	if err := w.openLive(); err != nil {
		w.failLocked(fmt.Errorf("reopen log %s after rotation: %w", w.path, err))
		w.size, w.torn = 0, false
	}
}

// renameLive moves the live file to the next rotated name.
func (w *Writer) renameLive() error {
	existing, err := rotatedFiles(w.path)
	if err != nil {
		return err
	}
	return os.Rename(w.path, nextRotated(w.path, existing, w.now()))
}

// prune removes the oldest rotated files so that at most MaxFiles-1 remain
// beside the live file.
func (w *Writer) prune() error {
	rotated, err := listRotated(w.path)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range rotated[:max(0, len(rotated)-(w.limits.MaxFiles-1))] {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove old log %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func (w *Writer) dropLocked(records, text int64) {
	w.stats.DroppedRecords += records
	w.stats.DroppedBytes += text
}

func (w *Writer) failLocked(err error) {
	w.stats.Errors++
	w.stats.LastError = err
}
