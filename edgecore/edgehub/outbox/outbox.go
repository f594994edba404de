// Package outbox is the bounded, persisted queue of messages edgecore must
// deliver to the cloud once it can: status patches and other writes made
// while the link is down. It lives in a bbolt bucket so it survives a
// restart; when full, the oldest entry is dropped and counted.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/model"
)

var (
	rootBucket  = []byte("edgehub_outbox")
	queueBucket = []byte("queue")  // big-endian sequence → message JSON
	indexBucket = []byte("latest") // "<op> <resource>" → sequence, for coalescing
	droppedKey  = []byte("dropped")
)

// Outbox is safe for concurrent use (bbolt serialises writers).
type Outbox struct {
	db  *bbolt.DB
	max int
}

// Open creates the buckets if needed. max bounds the number of entries.
func Open(db *bbolt.DB, max int) (*Outbox, error) {
	if max <= 0 {
		return nil, fmt.Errorf("outbox: max %d must be positive", max)
	}
	err := db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(rootBucket)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(queueBucket); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(indexBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	return &Outbox{db: db, max: max}, nil
}

// coalesceKey names entries where only the newest matters: a status patch
// or update replaces the one queued before it for the same resource.
func coalesceKey(msg *model.Message) []byte {
	switch msg.Router.Operation {
	case model.PatchOperation, model.UpdateOperation:
		return []byte(msg.Router.Operation + " " + msg.Router.Resource)
	}
	return nil
}

func seqKey(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// Push appends msg. A queued patch/update of the same resource is replaced;
// past max entries the oldest is dropped and counted.
func (o *Outbox) Push(msg *model.Message) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", msg.Header.ID, err)
	}
	var dropped []string
	err = o.db.Update(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		q, idx := root.Bucket(queueBucket), root.Bucket(indexBucket)
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		if ck := coalesceKey(msg); ck != nil {
			if old := idx.Get(ck); old != nil {
				if err := q.Delete(old); err != nil {
					return err
				}
			}
			if err := idx.Put(ck, seqKey(seq)); err != nil {
				return err
			}
		}
		if err := q.Put(seqKey(seq), data); err != nil {
			return err
		}
		for countKeys(q) > o.max {
			k, v := q.Cursor().First()
			if err := o.deleteLocked(root, k, v); err != nil {
				return err
			}
			dropped = append(dropped, describe(v))
			if err := bumpDropped(root); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: push %s: %w", msg.Header.ID, err)
	}
	for _, d := range dropped {
		klog.Warningf("outbox: full (%d entries); dropped the oldest, %s; %d dropped in total", o.max, d, o.Dropped())
	}
	return nil
}

// countKeys walks the bucket; the queue is small (bounded) and nested
// buckets have no cheap exact count inside a write transaction.
func countKeys(b *bbolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

func describe(v []byte) string {
	var m model.Message
	if json.Unmarshal(v, &m) != nil {
		return "an undecodable entry"
	}
	return fmt.Sprintf("%s %s (%s)", m.Router.Operation, m.Router.Resource, m.Header.ID)
}

func bumpDropped(root *bbolt.Bucket) error {
	var n uint64
	if v := root.Get(droppedKey); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return root.Put(droppedKey, seqKey(n+1))
}

// deleteLocked removes entry k and its coalescing index, if it points at k.
func (o *Outbox) deleteLocked(root *bbolt.Bucket, k, v []byte) error {
	var m model.Message
	if json.Unmarshal(v, &m) == nil {
		if ck := coalesceKey(&m); ck != nil {
			idx := root.Bucket(indexBucket)
			if cur := idx.Get(ck); cur != nil && string(cur) == string(k) {
				if err := idx.Delete(ck); err != nil {
					return err
				}
			}
		}
	}
	return root.Bucket(queueBucket).Delete(k)
}

// Entry is one queued message and its position.
type Entry struct {
	Seq uint64
	Msg *model.Message
}

// ErrEmpty is returned by Peek when nothing is queued.
var ErrEmpty = errors.New("outbox empty")

// Peek returns the oldest entry without removing it. An entry that no
// longer decodes is removed, logged and counted, so it cannot block the queue.
func (o *Outbox) Peek() (Entry, error) {
	for {
		var e Entry
		var corrupt bool
		err := o.db.Update(func(tx *bbolt.Tx) error {
			root := tx.Bucket(rootBucket)
			k, v := root.Bucket(queueBucket).Cursor().First()
			if k == nil {
				return ErrEmpty
			}
			var m model.Message
			if err := json.Unmarshal(v, &m); err != nil {
				corrupt = true
				klog.Errorf("outbox: dropping corrupt entry %x: %v", k, err)
				if err := bumpDropped(root); err != nil {
					return err
				}
				return root.Bucket(queueBucket).Delete(k)
			}
			e = Entry{Seq: binary.BigEndian.Uint64(k), Msg: &m}
			return nil
		})
		if err != nil {
			if errors.Is(err, ErrEmpty) {
				return Entry{}, ErrEmpty
			}
			return Entry{}, fmt.Errorf("outbox: peek: %w", err)
		}
		if !corrupt {
			return e, nil
		}
	}
}

// Remove deletes the entry with seq after it was delivered.
func (o *Outbox) Remove(seq uint64) error {
	err := o.db.Update(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
		k := seqKey(seq)
		v := root.Bucket(queueBucket).Get(k)
		if v == nil {
			return nil // replaced by a newer patch meanwhile
		}
		return o.deleteLocked(root, k, v)
	})
	if err != nil {
		return fmt.Errorf("outbox: remove %d: %w", seq, err)
	}
	return nil
}

// Len counts queued entries.
func (o *Outbox) Len() int {
	n := 0
	o.db.View(func(tx *bbolt.Tx) error {
		n = countKeys(tx.Bucket(rootBucket).Bucket(queueBucket))
		return nil
	})
	return n
}

// Dropped counts entries lost to the bound or to corruption, ever.
func (o *Outbox) Dropped() uint64 {
	var n uint64
	o.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(rootBucket).Get(droppedKey); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return n
}
