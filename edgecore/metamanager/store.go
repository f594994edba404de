package metamanager

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/edgegate/edgegate/edgecore/dbm"
)

// Tables of the store: KubeEdge's meta(key,type,value) as a bbolt table
// keyed by resource string, plus an index by type so a list does not scan
// every row.
const (
	MetaTable     = "meta"
	MetaTypeTable = "meta_type"
)

// Meta is one row: key is the resource string ("<ns>/<type>/<name>").
type Meta struct {
	Key   string
	Type  string
	Value string
}

// Store is metamanager's view of the database.
type Store struct{ db *dbm.DB }

// NewStore creates the tables if needed.
func NewStore(db *dbm.DB) (*Store, error) {
	if err := db.EnsureTables(MetaTable, MetaTypeTable); err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Save inserts or replaces rows in one transaction (INSERT OR REPLACE).
func (s *Store) Save(rows ...Meta) error {
	return s.db.Update(func(tx *dbm.Tx) error {
		for _, m := range rows {
			if err := save(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func save(tx *dbm.Tx, m Meta) error {
	if m.Key == "" {
		return errors.New("meta: empty key")
	}
	if old, ok, err := get(tx, m.Key); err != nil {
		return err
	} else if ok && old.Type != m.Type {
		if err := tx.Delete(MetaTypeTable, indexKey(old.Type, m.Key)); err != nil {
			return err
		}
	}
	if err := tx.Put(MetaTable, m.Key, encode(m)); err != nil {
		return err
	}
	return tx.Put(MetaTypeTable, indexKey(m.Type, m.Key), nil)
}

// Get returns the row under key.
func (s *Store) Get(key string) (Meta, bool, error) {
	var m Meta
	var ok bool
	err := s.db.View(func(tx *dbm.Tx) error {
		var err error
		m, ok, err = get(tx, key)
		return err
	})
	return m, ok, err
}

func get(tx *dbm.Tx, key string) (Meta, bool, error) {
	v, ok, err := tx.Get(MetaTable, key)
	if err != nil || !ok {
		return Meta{}, ok, err
	}
	m, err := decode(key, v)
	return m, err == nil, err
}

// ListByType returns every row of type typ in key order.
func (s *Store) ListByType(typ string) ([]Meta, error) {
	var out []Meta
	err := s.db.View(func(tx *dbm.Tx) error {
		return tx.ForEach(MetaTypeTable, typ+"\x00", func(k string, _ []byte) error {
			key := k[len(typ)+1:]
			m, ok, err := get(tx, key)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("meta: index names %q but the row is missing", key)
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// Delete removes key. With match non-empty the row is removed only if its
// value contains match (KubeEdge deletes a pod only if the stored copy has
// the UID of the delete, so a stale delete spares a recreated pod). When
// the row goes, the dependent rows go with it in the same transaction. It
// reports whether key was removed.
func (s *Store) Delete(key, match string, dependents ...string) (bool, error) {
	removed := false
	err := s.db.Update(func(tx *dbm.Tx) error {
		m, ok, err := get(tx, key)
		if err != nil || !ok {
			return err
		}
		if match != "" && !strings.Contains(m.Value, match) {
			return nil
		}
		removed = true
		for _, k := range append([]string{key}, dependents...) {
			if err := remove(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
	return removed, err
}

// DeleteKeys removes keys in one transaction; missing keys are skipped.
func (s *Store) DeleteKeys(keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return s.db.Update(func(tx *dbm.Tx) error {
		for _, k := range keys {
			if err := remove(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// remove deletes key and its index entry; a missing key is not an error.
func remove(tx *dbm.Tx, key string) error {
	m, ok, err := get(tx, key)
	if err != nil || !ok {
		return err
	}
	if err := tx.Delete(MetaTable, key); err != nil {
		return err
	}
	return tx.Delete(MetaTypeTable, indexKey(m.Type, key))
}

func indexKey(typ, key string) string { return typ + "\x00" + key }

// encode lays a row out as uvarint(len(type)) type value.
func encode(m Meta) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(m.Type)+len(m.Value))
	b = binary.AppendUvarint(b, uint64(len(m.Type)))
	b = append(b, m.Type...)
	return append(b, m.Value...)
}

func decode(key string, b []byte) (Meta, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return Meta{}, fmt.Errorf("meta row %q: %w: malformed record", key, dbm.ErrCorrupt)
	}
	return Meta{Key: key, Type: string(b[w : w+int(n)]), Value: string(b[w+int(n):])}, nil
}
