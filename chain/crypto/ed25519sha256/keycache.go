package ed25519sha256

import (
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// keyCache remembers the decompressed points of recently decoded public
// keys. Decompression (a square root in the field) is most of decoding and
// a third of verifying a signature, and a busy chain sees the same senders
// again and again. Decoding is a pure function of the 32 bytes, so a hit
// answers exactly as decoding would. Two generations bound it: when the
// current one fills, it becomes the previous one and the older is dropped.
type keyCache struct {
	mu        sync.Mutex
	cur, prev map[[PublicKeySize]byte]*voi.ExpandedPublicKey
}

// keyCacheSize is the entries per generation (about 1.5 KiB each).
const keyCacheSize = 4096

// keys is the suite's cache: Suite is a stateless value, and the cache
// holds only what decoding the same bytes would give.
var keys keyCache

func (c *keyCache) get(b [PublicKeySize]byte) *voi.ExpandedPublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur[b]; e != nil {
		return e
	}
	if e := c.prev[b]; e != nil {
		c.putLocked(b, e)
		return e
	}
	return nil
}

func (c *keyCache) put(b [PublicKeySize]byte, e *voi.ExpandedPublicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(b, e)
}

func (c *keyCache) putLocked(b [PublicKeySize]byte, e *voi.ExpandedPublicKey) {
	if len(c.cur) >= keyCacheSize {
		c.prev, c.cur = c.cur, nil
	}
	if c.cur == nil {
		c.cur = make(map[[PublicKeySize]byte]*voi.ExpandedPublicKey, keyCacheSize)
	}
	c.cur[b] = e
}
