package ledger

import (
	"bytes"
	"sync"

	"github.com/polityledger/polity/chain/exec"
)

// headCache holds state values read at the current head. A loaded node
// reads the same few keys again and again between two commits: every
// transaction it admits reads its sender's nonce, every pruning of the
// request pool reads them again. Each read was a Pebble lookup through a
// large memtable (about 4 % of a loaded devnet's CPU).
//
// The cache is filled by readers holding the ledger's pub lock shared, and
// Commit, holding pub exclusively, writes the block's state writes through
// it: the next block's execution reads mostly keys the last one wrote (the
// same senders' nonces and balances). Replace (holding swap exclusively)
// and Restore empty it. So it never answers with a value from an older
// head. A nil value records an absent key.
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
	c.putLocked(key, v)
}

func (c *headCache) putLocked(key, v []byte) {
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if _, ok := c.m[string(key)]; ok || len(c.m) < headCacheMax {
		c.m[string(key)] = v
	}
}

// commit applies a block's state writes (a nil value deletes). When they
// would overflow the bound, the cache starts again from them.
func (c *headCache) commit(writes []exec.Write) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(writes) > headCacheMax {
		clear(c.m)
	}
	for _, w := range writes {
		c.putLocked(w.Key, bytes.Clone(w.Value))
	}
}

// reset drops every entry: the head's state changed.
func (c *headCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
