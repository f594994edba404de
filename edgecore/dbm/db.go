// Package dbm is edgecore's store (KubeEdge's dbm): one bbolt file, one
// bucket per table, transactions shared safely by every module.
//
// Every Update returns only after the transaction is on disk (fsync), so a
// write that was acknowledged survives a crash or power cut.
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
}

// DB is an open store.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens (creating if needed) the database at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("database %s: create directory: %w", path, classify(err))
	}
	b, err := openBolt(path, opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("database %s: open: %w", path, classifyOpen(err, opts.LockTimeout))
	}
	d := &DB{bolt: b, path: path}
	if !opts.SkipCheck {
		if err := d.check(); err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	if err := d.EnsureTables(opts.Tables...); err != nil {
		_ = b.Close()
		return nil, err
	}
	return d, nil
}

// openBolt turns a panic inside bbolt (it panics on some malformed files)
// into an error.
func openBolt(path string, timeout time.Duration) (b *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
}

func (d *DB) check() error {
	return d.View(func(tx *Tx) error {
		for err := range tx.tx.Check() {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
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

// EnsureTables creates the named tables that do not exist yet.
func (d *DB) EnsureTables(names ...string) error {
	if len(names) == 0 {
		return nil
	}
	return d.Update(func(tx *Tx) error {
		for _, n := range names {
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

func classifyOpen(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("%w (waited %v): %w", ErrLocked, timeout, err)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return classify(err)
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
