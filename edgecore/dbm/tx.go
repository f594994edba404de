package dbm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Tx is a transaction. It is valid only inside the function given to
// Update, Batch or View.
type Tx struct{ tx *bolt.Tx }

func (t *Tx) table(name string) (*bolt.Bucket, error) {
	b := t.tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("table %q: %w", name, ErrNoTable)
	}
	return b, nil
}

// Put stores value under key in table, replacing any previous value.
func (t *Tx) Put(table, key string, value []byte) error {
	b, err := t.table(table)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("table %q: put %q: %w", table, key, err)
	}
	return nil
}

// Get returns a copy of the value under key, and whether it exists.
func (t *Tx) Get(table, key string) ([]byte, bool, error) {
	b, err := t.table(table)
	if err != nil {
		return nil, false, err
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

// Delete removes key from table; deleting a missing key is not an error.
func (t *Tx) Delete(table, key string) error {
	b, err := t.table(table)
	if err != nil {
		return err
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("table %q: delete %q: %w", table, key, err)
	}
	return nil
}

// ForEach calls fn for every key in table that starts with prefix, in key
// order. value is only valid during the call. Returning an error stops the
// walk and is returned.
func (t *Tx) ForEach(table, prefix string, fn func(key string, value []byte) error) error {
	b, err := t.table(table)
	if err != nil {
		return err
	}
	p := []byte(prefix)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(string(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of keys in table.
func (t *Tx) Count(table string) (int, error) {
	b, err := t.table(table)
	if err != nil {
		return 0, err
	}
	return b.Stats().KeyN, nil
}
