package ledger

import (
	"sync"

	"github.com/polityledger/polity/chain/crypto"
)

// nodeCache keeps recently written and read state-tree nodes in memory:
// every block's update reads the paths the previous blocks wrote, and each
// Pebble read costs far more than a map lookup. Two generations give O(1)
// eviction: when the young map fills it becomes the old one and the former
// old one is dropped. Nodes are content-addressed and immutable, so a cached
// node is never stale.
type nodeCache struct {
	mu       sync.Mutex
	max      int
	young    map[crypto.Hash][]byte
	old      map[crypto.Hash][]byte
	hit, mis uint64
}

func newNodeCache(max int) *nodeCache {
	return &nodeCache{max: max, young: make(map[crypto.Hash][]byte, max), old: map[crypto.Hash][]byte{}}
}

func (c *nodeCache) get(h crypto.Hash) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.young[h]; ok {
		c.hit++
		return v, true
	}
	if v, ok := c.old[h]; ok {
		c.hit++
		c.putLocked(h, v)
		return v, true
	}
	c.mis++
	return nil, false
}

func (c *nodeCache) put(h crypto.Hash, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(h, v)
}

func (c *nodeCache) putLocked(h crypto.Hash, v []byte) {
	if len(c.young) >= c.max {
		c.old, c.young = c.young, make(map[crypto.Hash][]byte, c.max)
	}
	c.young[h] = v
}
