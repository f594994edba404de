package events

import (
	"container/list"
	"crypto/sha256"
)

// key identifies an entry of the correlator's caches: a digest of the
// fields that make events alike. A digest instead of the joined fields
// keeps the caches' memory fixed per entry whatever the messages are.
type key [16]byte

// keyOf digests fields, each ended by a zero byte so that no two lists
// of fields digest the same input.
func keyOf(fields ...string) key {
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var k key
	copy(k[:], h.Sum(nil))
	return k
}

// lru is a cache of at most max entries that forgets the least recently
// used one first, as client-go's event caches do. It is not safe for
// concurrent use.
type lru[V any] struct {
	max   int
	order *list.List // front: most recently used; values are *lruEntry[V]
	items map[key]*list.Element
}

type lruEntry[V any] struct {
	k key
	v V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: map[key]*list.Element{}}
}

// get returns the value under k and marks it used.
func (c *lru[V]) get(k key) (V, bool) {
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).v, true
}

// add stores v under k, forgetting the least recently used entry when
// the cache is full.
func (c *lru[V]) add(k key, v V) {
	if e, ok := c.items[k]; ok {
		e.Value.(*lruEntry[V]).v = v
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(&lruEntry[V]{k: k, v: v})
	if c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*lruEntry[V]).k)
	}
}

func (c *lru[V]) len() int { return c.order.Len() }
