// Package outbox keeps what edgecore must deliver to the cloud until it is
// delivered. Outbox is the persisted queue of messages for a link that is
// down (status patches and other writes made offline, and what a lost link
// left unconfirmed); it lives in edgecore's store so it survives a
// restart, and is bounded in entries and bytes: when full, the oldest entry
// is dropped and counted. Window holds, in memory, what was written to a
// live link and is not yet proven delivered.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Tables in edgecore's store.
const (
	QueueTable  = "edgehub_outbox"        // 16 hex digits of sequence → message JSON
	LatestTable = "edgehub_outbox_latest" // "<op> <resource>" → sequence key, for coalescing
	StateTable  = "edgehub_outbox_state"  // counters below
)

const (
	nextKey    = "next"
	countKey   = "count"
	bytesKey   = "bytes"
	droppedKey = "dropped"
)

// Limits bound the queue.
type Limits struct {
	Entries int // messages queued
	Bytes   int // their encoded size
}

// Outbox is safe for concurrent use (the store serialises writers).
type Outbox struct {
	db  *dbm.DB
	lim Limits
}

// Open creates the tables if needed.
func Open(db *dbm.DB, lim Limits) (*Outbox, error) {
	if lim.Entries <= 0 || lim.Bytes <= 0 {
		return nil, fmt.Errorf("outbox: limits %d entries and %d bytes must be positive", lim.Entries, lim.Bytes)
	}
	if err := db.EnsureTables(QueueTable, LatestTable, StateTable); err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	if err := db.Update(countBytes); err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	return &Outbox{db: db, lim: lim}, nil
}

// countBytes sums the queue's size once, for a store written before the
// size was kept.
func countBytes(tx *dbm.Tx) error {
	if _, ok, err := tx.Get(StateTable, bytesKey); err != nil || ok {
		return err
	}
	var n uint64
	err := tx.ForEach(QueueTable, "", func(_ string, v []byte) error {
		n += uint64(len(v))
		return nil
	})
	if err != nil {
		return err
	}
	return putUint(tx, bytesKey, n)
}

// coalesceKey names entries where only the newest matters: a status patch
// or update replaces the one queued before it for the same resource.
func coalesceKey(msg *model.Message) string {
	switch msg.Router.Operation {
	case model.PatchOperation, model.UpdateOperation:
		return msg.Router.Operation + " " + msg.Router.Resource
	}
	return ""
}

func seqKey(n uint64) string { return fmt.Sprintf("%016x", n) }

func getUint(tx *dbm.Tx, key string) (uint64, error) {
	v, ok, err := tx.Get(StateTable, key)
	if err != nil || !ok || len(v) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

func putUint(tx *dbm.Tx, key string, n uint64) error {
	return tx.Put(StateTable, key, binary.BigEndian.AppendUint64(nil, n))
}

// addUint adds delta to a counter; it never goes below zero.
func addUint(tx *dbm.Tx, key string, delta int64) error {
	n, err := getUint(tx, key)
	if err != nil {
		return err
	}
	return putUint(tx, key, uint64(max(int64(n)+delta, 0)))
}

// Push appends msg. A queued patch/update of the same resource is replaced;
// past the limits the oldest entries are dropped and counted. A message
// larger than the byte limit by itself is refused.
func (o *Outbox) Push(msg *model.Message) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", msg.Header.ID, err)
	}
	if len(data) > o.lim.Bytes {
		return fmt.Errorf("outbox: message %s (%s %s) is %d bytes, more than the whole outbox holds (%d)",
			msg.Header.ID, msg.Router.Operation, msg.Router.Resource, len(data), o.lim.Bytes)
	}
	var dropped []string
	err = o.db.Update(func(tx *dbm.Tx) error {
		dropped = dropped[:0]
		seq, err := getUint(tx, nextKey)
		if err != nil {
			return err
		}
		key := seqKey(seq + 1)
		if err := putUint(tx, nextKey, seq+1); err != nil {
			return err
		}
		if ck := coalesceKey(msg); ck != "" {
			if old, ok, err := tx.Get(LatestTable, ck); err != nil {
				return err
			} else if ok {
				if err := o.remove(tx, string(old)); err != nil {
					return err
				}
			}
			if err := tx.Put(LatestTable, ck, []byte(key)); err != nil {
				return err
			}
		}
		if err := tx.Put(QueueTable, key, data); err != nil {
			return err
		}
		if err := addUint(tx, countKey, 1); err != nil {
			return err
		}
		if err := addUint(tx, bytesKey, int64(len(data))); err != nil {
			return err
		}
		for {
			if over, err := o.over(tx); err != nil || !over {
				return err
			}
			k, v, err := first(tx)
			if err != nil {
				return err
			}
			dropped = append(dropped, describe(v))
			if err := o.remove(tx, k); err != nil {
				return err
			}
			if err := addUint(tx, droppedKey, 1); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return fmt.Errorf("outbox: push %s: %w", msg.Header.ID, err)
	}
	for _, d := range dropped {
		klog.Warningf("outbox: full (%d entries or %d bytes); dropped the oldest, %s; %d dropped in total",
			o.lim.Entries, o.lim.Bytes, d, o.Dropped())
	}
	return nil
}

// over reports whether the queue holds more than its limits allow.
func (o *Outbox) over(tx *dbm.Tx) (bool, error) {
	n, err := getUint(tx, countKey)
	if err != nil {
		return false, err
	}
	b, err := getUint(tx, bytesKey)
	if err != nil {
		return false, err
	}
	return n > uint64(o.lim.Entries) || b > uint64(o.lim.Bytes), nil
}

var errStop = errors.New("stop")

// first returns the oldest entry, or ErrEmpty.
func first(tx *dbm.Tx) (key string, value []byte, err error) { return firstAfter(tx, "") }

// firstAfter returns the oldest entry whose key sorts after the given one,
// or ErrEmpty.
func firstAfter(tx *dbm.Tx, after string) (key string, value []byte, err error) {
	err = tx.ForEach(QueueTable, "", func(k string, v []byte) error {
		if k <= after {
			return nil
		}
		key, value = k, append([]byte(nil), v...)
		return errStop
	})
	switch {
	case errors.Is(err, errStop):
		return key, value, nil
	case err != nil:
		return "", nil, err
	}
	return "", nil, ErrEmpty
}

func describe(v []byte) string {
	var m model.Message
	if json.Unmarshal(v, &m) != nil {
		return "an undecodable entry"
	}
	return fmt.Sprintf("%s %s (%s)", m.Router.Operation, m.Router.Resource, m.Header.ID)
}

// remove deletes entry key, its coalescing index if it points at key, and
// keeps the count. A missing key (already replaced) is not an error.
func (o *Outbox) remove(tx *dbm.Tx, key string) error {
	v, ok, err := tx.Get(QueueTable, key)
	if err != nil || !ok {
		return err
	}
	var m model.Message
	if json.Unmarshal(v, &m) == nil {
		if ck := coalesceKey(&m); ck != "" {
			cur, ok, err := tx.Get(LatestTable, ck)
			if err != nil {
				return err
			}
			if ok && string(cur) == key {
				if err := tx.Delete(LatestTable, ck); err != nil {
					return err
				}
			}
		}
	}
	size := int64(len(v))
	if err := tx.Delete(QueueTable, key); err != nil {
		return err
	}
	if err := addUint(tx, bytesKey, -size); err != nil {
		return err
	}
	return addUint(tx, countKey, -1)
}

// Entry is one queued message and its position.
type Entry struct {
	Seq uint64
	Msg *model.Message
}

// ErrEmpty is returned by Peek when nothing is queued.
var ErrEmpty = errors.New("outbox empty")

// Peek returns the oldest entry without removing it.
func (o *Outbox) Peek() (Entry, error) { return o.Next(0) }

// Next returns the oldest entry after seq without removing it (Next(0) is
// the oldest of all), or ErrEmpty. An entry that no longer decodes is
// removed, logged and counted, so it cannot block the queue.
func (o *Outbox) Next(seq uint64) (Entry, error) {
	after := ""
	if seq > 0 {
		after = seqKey(seq)
	}
	for {
		var e Entry
		err := o.db.Update(func(tx *dbm.Tx) error {
			e = Entry{}
			k, v, err := firstAfter(tx, after)
			if err != nil {
				return err
			}
			var m model.Message
			if err := json.Unmarshal(v, &m); err != nil {
				klog.Errorf("outbox: dropping corrupt entry %s: %v", k, err)
				if err := addUint(tx, droppedKey, 1); err != nil {
					return err
				}
				return o.remove(tx, k)
			}
			seq, err := strconv.ParseUint(k, 16, 64)
			if err != nil {
				return fmt.Errorf("entry key %q: %w", k, err)
			}
			e = Entry{Seq: seq, Msg: &m}
			return nil
		})
		if errors.Is(err, ErrEmpty) {
			return Entry{}, ErrEmpty
		}
		if err != nil {
			return Entry{}, fmt.Errorf("outbox: next after %d: %w", seq, err)
		}
		if e.Msg != nil {
			return e, nil
		}
	}
}

// Remove deletes the entry with seq after it was delivered.
func (o *Outbox) Remove(seq uint64) error {
	if err := o.db.Update(func(tx *dbm.Tx) error { return o.remove(tx, seqKey(seq)) }); err != nil {
		return fmt.Errorf("outbox: remove %d: %w", seq, err)
	}
	return nil
}

// Len counts queued entries.
func (o *Outbox) Len() int { return int(o.stat(countKey)) }

// Bytes is the encoded size of the queued entries.
func (o *Outbox) Bytes() int { return int(o.stat(bytesKey)) }

// Dropped counts entries lost to the bound or to corruption, ever.
func (o *Outbox) Dropped() uint64 { return o.stat(droppedKey) }

func (o *Outbox) stat(key string) uint64 {
	var n uint64
	if err := o.db.View(func(tx *dbm.Tx) (err error) { n, err = getUint(tx, key); return err }); err != nil {
		klog.Errorf("outbox: read %s: %v", key, err)
	}
	return n
}
