package imapd

import (
	"container/list"
	"sync"
)

// lru is a bounded least-recently-used cache of values derived from
// message files (which the store never rewrites, so entries never go
// stale). Each value costs cost(v) of the budget.
type lru[V any] struct {
	budget int
	cost   func(V) int

	mu   sync.Mutex
	used int                        // guarded by mu
	ll   *list.List                 // guarded by mu; front is most recent
	m    map[cacheKey]*list.Element // guarded by mu
}

type lruEntry[V any] struct {
	key  cacheKey
	val  V
	cost int
}

func newLRU[V any](budget int, cost func(V) int) *lru[V] {
	return &lru[V]{budget: budget, cost: cost, ll: list.New(), m: map[cacheKey]*list.Element{}}
}

func (c *lru[V]) get(k cacheKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*lruEntry[V]).val, true
}

func (c *lru[V]) put(k cacheKey, v V) {
	cost := c.cost(v)
	if cost > c.budget/8 {
		return // one huge value would evict everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		ent := e.Value.(*lruEntry[V])
		c.used += cost - ent.cost
		ent.val, ent.cost = v, cost
		c.ll.MoveToFront(e)
	} else {
		c.m[k] = c.ll.PushFront(&lruEntry[V]{k, v, cost})
		c.used += cost
	}
	for c.used > c.budget && c.ll.Len() > 0 {
		e := c.ll.Back()
		ent := e.Value.(*lruEntry[V])
		c.ll.Remove(e)
		delete(c.m, ent.key)
		c.used -= ent.cost
	}
}
