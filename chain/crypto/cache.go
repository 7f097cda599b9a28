package crypto

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Cache is a bounded map of pure results: a hit must answer exactly what
// recomputing would. Two generations bound it: when the current one holds
// Size entries it becomes the previous one and the older is dropped; a hit
// in the previous generation moves the entry forward.
type Cache[K comparable, V any] struct {
	Size      int // entries per generation
	mu        sync.Mutex
	cur, prev map[K]V
}

// Get returns the value stored for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		c.putLocked(k, v)
	}
	return v, ok
}

// Put stores v for k.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *Cache[K, V]) putLocked(k K, v V) {
	if len(c.cur) >= c.Size {
		c.prev, c.cur = c.cur, nil
	}
	if c.cur == nil {
		c.cur = make(map[K]V, c.Size)
	}
	c.cur[k] = v
}

// SigCache remembers signatures that verified, so that a node checks each
// transaction's signature once however many paths bring it (admission, a
// forwarded request, a proposal, block sync). Verification is a pure
// function of key, message and signature, so a hit answers exactly as
// verifying again would; failures are not remembered. The cache key is a
// SHA-256 digest of the three, length-prefixed.
type SigCache struct {
	c              Cache[[32]byte, struct{}]
	verified, hits atomic.Uint64
}

// NewSigCache holds up to 2×size verified signatures (about 64 bytes each).
func NewSigCache(size int) *SigCache { return &SigCache{c: Cache[[32]byte, struct{}]{Size: size}} }

// SigKey is the cache key of one signature.
func SigKey(pub, msg, sig []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range [][]byte{pub, msg, sig} {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Seen reports whether the signature with key k verified before; a miss
// counts as one verification the caller is about to do.
func (c *SigCache) Seen(k [32]byte) bool {
	if _, ok := c.c.Get(k); ok {
		c.hits.Add(1)
		return true
	}
	c.verified.Add(1)
	return false
}

// Add records that the signature with key k verified.
func (c *SigCache) Add(k [32]byte) { c.c.Put(k, struct{}{}) }

// SigStats counts signature checks since the process started.
type SigStats struct {
	Verified uint64 // checked by the signature scheme
	Cached   uint64 // answered from the cache
}

// Stats returns the counters.
func (c *SigCache) Stats() SigStats {
	return SigStats{Verified: c.verified.Load(), Cached: c.hits.Load()}
}
