package httpsig

import (
	"container/heap"
	"sync"
	"time"
)

// nonceCache remembers (keyid, nonce) pairs until their signatures expire,
// bounded to max entries. When full of unexpired entries it refuses new ones
// (ErrBusy) rather than forget one and allow its replay. Safe for concurrent
// use.
type nonceCache struct {
	max int
	mu  struct {
		sync.Mutex
		seen  map[string]time.Time
		byExp expHeap
	}
}

func newNonceCache(max int) *nonceCache {
	c := &nonceCache{max: max}
	c.mu.seen = map[string]time.Time{}
	return c
}

// add records key until exp, first dropping entries expired at now. It
// returns ErrReplay if key is remembered, ErrBusy if the cache is full.
func (c *nonceCache) add(key string, exp, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if _, ok := c.mu.seen[key]; ok {
		return ErrReplay
	}
	if len(c.mu.seen) >= c.max {
		return ErrBusy
	}
	c.mu.seen[key] = exp
	heap.Push(&c.mu.byExp, entry{key: key, exp: exp})
	return nil
}

func (c *nonceCache) expireLocked(now time.Time) {
	for len(c.mu.byExp) > 0 && !c.mu.byExp[0].exp.After(now) {
		e := heap.Pop(&c.mu.byExp).(entry)
		delete(c.mu.seen, e.key)
	}
}

func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.seen)
}

type entry struct {
	key string
	exp time.Time
}

// expHeap is a min-heap of entries by expiry.
type expHeap []entry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
