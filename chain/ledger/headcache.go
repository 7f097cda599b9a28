package ledger

import "sync"

// headCache holds state values read at the current head. A loaded node
// reads the same few keys again and again between two commits: every
// transaction it admits reads its sender's nonce, every pruning of the
// request pool reads them again. Each read was a Pebble lookup through a
// large memtable (about 4 % of a loaded devnet's CPU).
//
// The cache is filled only by readers holding the ledger's pub lock shared
// and emptied by every writer of state: Commit while it holds pub
// exclusively, Replace while it holds swap exclusively, and Restore. So it
// never answers with a value from an older head. A nil value records an
// absent key.
type headCache struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// headCacheMax bounds the entries held for one head; past it, reads go to
// the store.
const headCacheMax = 1 << 16

func (c *headCache) get(key []byte) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[string(key)]
	return v, ok
}

func (c *headCache) put(key, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if len(c.m) < headCacheMax {
		c.m[string(key)] = v
	}
}

// reset drops every entry: the head's state changed.
func (c *headCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
