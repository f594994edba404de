// Package dbm is edgecore's store (KubeEdge's dbm): one bbolt file, one
// bucket per table, transactions shared safely by every module.
//
// Every Update returns only after the transaction is on disk (fsync), so a
// write that was acknowledged survives a crash or power cut.
//
// Open reads the whole store before handing it out, so that corruption is
// an error at start rather than a crash later; with Options.ResetCorrupt a
// store proven corrupt is moved aside and replaced by an empty one
// (reset.go).
package dbm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultPath is KubeEdge's database location.
const DefaultPath = "/var/lib/kubeedge/edgecore.db"

// DefaultLockTimeout bounds the wait for another process's lock on the file.
const DefaultLockTimeout = 2 * time.Second

// DefaultKeepCorrupt is how many corrupt stores are kept moved aside.
const DefaultKeepCorrupt = 3

var (
	// ErrLocked means another process holds the database open.
	ErrLocked = errors.New("database is locked by another process")
	// ErrCorrupt means the file is not a valid edgecore database.
	ErrCorrupt = errors.New("database file is corrupt or not an edgecore (bbolt) database")
	// ErrDiskFull means a write failed for lack of space; nothing committed
	// before it is lost.
	ErrDiskFull = errors.New("no space left on device")
	// ErrNoTable means a table was used that was never created.
	ErrNoTable = errors.New("no such table")
)

// Options tune Open.
type Options struct {
	// LockTimeout is how long to wait for another process's lock
	// (default DefaultLockTimeout).
	LockTimeout time.Duration
	// Tables are created if missing.
	Tables []string
	// SkipCheck skips the full consistency check at open. The check
	// reads every page, which is fast for an edge node's database and
	// turns hidden corruption into a clear error instead of a crash later.
	SkipCheck bool
	// ResetCorrupt moves a store proven corrupt aside, kept for inspection
	// as <path>.corrupt-<UTC time>, and opens an empty one in its place,
	// so that a node without a shell recovers by itself; DB.Reset reports
	// it. Without it Open returns ErrCorrupt. What the environment fails
	// (permissions, I/O errors, a full disk, another process's lock)
	// never moves anything.
	ResetCorrupt bool
	// KeepCorrupt bounds the stores kept moved aside (default
	// DefaultKeepCorrupt); the oldest are removed first.
	KeepCorrupt int

	// now dates a reset and readBack reads the whole file before it is
	// moved; tests replace them.
	now      func() time.Time
	readBack func(path string) error
}

func (o *Options) defaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.KeepCorrupt <= 0 {
		o.KeepCorrupt = DefaultKeepCorrupt
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.readBack == nil {
		o.readBack = readBack
	}
}

// DB is an open store.
type DB struct {
	bolt  *bolt.DB
	path  string
	reset *Reset // the corrupt store Open moved aside, if it did
}

// Open opens (creating if needed) the database at path and checks it.
func Open(path string, opts Options) (*DB, error) {
	opts.defaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("database %s: create directory: %w", path, classify(err))
	}
	d, err := open(path, opts)
	if err != nil && opts.ResetCorrupt && errors.Is(err, ErrCorrupt) {
		return resetCorrupt(path, opts, err)
	}
	return d, err
}

// open opens the file, checks it unless told not to, and creates the
// tables.
func open(path string, opts Options) (*DB, error) {
	b, err := openBolt(path, opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("database %s: open: %w", path, classifyOpen(path, err, opts.LockTimeout))
	}
	d := &DB{bolt: b, path: path}
	if !opts.SkipCheck {
		if err := verify(b); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("database %s: check: %w", path, classify(err))
		}
	}
	if err := d.EnsureTables(opts.Tables...); err != nil {
		_ = b.Close()
		return nil, err
	}
	return d, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close releases the file and its lock.
func (d *DB) Close() error {
	if err := d.bolt.Close(); err != nil {
		return fmt.Errorf("database %s: close: %w", d.path, classify(err))
	}
	return nil
}

// Reset reports the corrupt store Open moved aside to open this one.
func (d *DB) Reset() (Reset, bool) {
	if d.reset == nil {
		return Reset{}, false
	}
	return *d.reset, true
}

// EnsureTables creates the named tables that do not exist yet. Tables
// that all exist cost no write, so a store on a full disk still opens.
func (d *DB) EnsureTables(names ...string) error {
	var missing []string
	err := d.View(func(tx *Tx) error {
		for _, n := range names {
			if tx.tx.Bucket([]byte(n)) == nil {
				missing = append(missing, n)
			}
		}
		return nil
	})
	if err != nil || len(missing) == 0 {
		return err
	}
	return d.Update(func(tx *Tx) error {
		for _, n := range missing {
			if _, err := tx.tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return fmt.Errorf("create table %q: %w", n, err)
			}
		}
		return nil
	})
}

// Update runs fn in a read-write transaction and commits it to disk when
// fn returns nil. Writers are serialised.
func (d *DB) Update(fn func(*Tx) error) error {
	return d.wrap("update", d.bolt.Update, fn)
}

// Batch is Update for many concurrent small writers: their functions are
// combined into fewer disk commits. fn may run more than once and must be
// idempotent.
func (d *DB) Batch(fn func(*Tx) error) error {
	return d.wrap("batch", d.bolt.Batch, fn)
}

// View runs fn in a read-only transaction; readers run in parallel with
// each other and with a writer.
func (d *DB) View(fn func(*Tx) error) error {
	return d.wrap("view", d.bolt.View, fn)
}

func (d *DB) wrap(kind string, run func(func(*bolt.Tx) error) error, fn func(*Tx) error) (err error) {
	defer func() {
		// bbolt panics on pages it cannot parse; report corruption
		// instead of crashing every module.
		if p := recover(); p != nil {
			err = fmt.Errorf("database %s: %s: %w: %v", d.path, kind, ErrCorrupt, p)
		}
	}()
	if err := run(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) }); err != nil {
		return fmt.Errorf("database %s: %s: %w", d.path, kind, classify(err))
	}
	return nil
}

// classifyOpen sorts what bbolt's open returned. Only what proves the
// file itself bad is ErrCorrupt: meta pages that are not bbolt's (a bad
// magic, version or checksum in both), a panic while reading the file,
// or a file too short to hold the meta pages. An error from the system
// (it carries an errno: permission, I/O, no space) or a lock wait says
// nothing about the file's content and is never taken for corruption.
func classifyOpen(path string, err error, timeout time.Duration) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("%w (waited %v): %w", ErrLocked, timeout, err)
	case errors.As(err, &errno):
		return classify(err)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case shorterThanMeta(path):
		// bbolt refuses such a file with an error of its own ("file size
		// too small") that carries no sentinel.
		return fmt.Errorf("%w: the file is shorter than its two meta pages (truncated): %w", ErrCorrupt, err)
	}
	return err
}

// shorterThanMeta reports a file that is not empty (an empty file is a
// new store) but shorter than two of the pages edgecore creates its store
// with, the system's.
func shorterThanMeta(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0 && st.Size() < 2*int64(os.Getpagesize())
}

func classify(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		if errors.Is(err, ErrDiskFull) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}
