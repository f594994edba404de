package dbm

import (
	"fmt"
	"hash/crc32"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// bbolt trusts the pages it reads. A malformed meta, freelist or branch
// page makes it panic, and a page number past the end of the file makes it
// touch memory the file does not back: a fault, which would kill the
// process on every start. Opening and checking therefore run with faults
// turned into panics (debug.SetPanicOnFault), and a panic is ErrCorrupt.

// openBolt opens path with bbolt. After a panic bbolt has neither closed
// the file nor released its lock, which would refuse every later open in
// this process: both are done here. The lock is released explicitly
// because the mapping bbolt leaves behind (its address is bbolt's alone)
// keeps the file open, and with it the lock.
func openBolt(path string, timeout time.Duration) (b *bolt.DB, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if file != nil {
				_ = unix.Flock(int(file.Fd()), unix.LOCK_UN)
				_ = file.Close()
			}
			b, err = nil, fmt.Errorf("%w: reading its pages failed: %v", ErrCorrupt, p)
		}
	}()
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, OpenFile: openFile})
}

// verify reads the whole store as the modules will: every table, key and
// value, then runs bbolt's consistency check. The check runs on a
// goroutine of its own, where a fault cannot be caught; reading every
// reachable page here first, where it can, means the check only touches
// pages already read safely.
func verify(b *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: reading its pages failed: %v", ErrCorrupt, p)
		}
	}()
	return b.View(func(tx *bolt.Tx) error {
		if err := coversPages(tx); err != nil {
			return err
		}
		if err := tx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
			readBucket(bk)
			return nil
		}); err != nil {
			return err
		}
		return consistent(tx)
	})
}

// coversPages checks the file is as long as its meta page says: a store
// cut short (a truncated copy, a lost tail) would fault on its last pages.
func coversPages(tx *bolt.Tx) error {
	st, err := os.Stat(tx.DB().Path())
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Size() < tx.Size() {
		return fmt.Errorf("%w: the file has %d bytes but its pages end at %d (truncated)", ErrCorrupt, st.Size(), tx.Size())
	}
	return nil
}

// readBucket reads every key and value of b and of the tables nested in
// it; the checksum makes the reads real.
func readBucket(b *bolt.Bucket) uint32 {
	var sum uint32
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		sum = crc32.Update(sum, crc32.IEEETable, k)
		sum = crc32.Update(sum, crc32.IEEETable, v)
		if v == nil {
			if child := b.Bucket(k); child != nil {
				sum ^= readBucket(child)
			}
		}
	}
	return sum
}

// consistent runs bbolt's check (pages freed twice, reachable and free at
// once, unreachable, keys out of order) and drains its channel, so that
// its goroutine ends.
func consistent(tx *bolt.Tx) error {
	var first error
	n := 0
	for err := range tx.Check() {
		if first == nil {
			first = err
		}
		n++
	}
	if first != nil {
		return fmt.Errorf("%w: %d inconsistencies, the first: %v", ErrCorrupt, n, first)
	}
	return nil
}
