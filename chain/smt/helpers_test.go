package smt

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// testSuite is SHA-256 with no signature scheme.
type testSuite struct{}

var suite crypto.Suite = testSuite{}

var errNoSig = errors.New("testSuite: no signatures")

func (testSuite) Name() string { return "test-sha256" }

func (testSuite) Hash(parts ...[]byte) crypto.Hash {
	if len(parts) == 1 {
		return sha256.Sum256(parts[0])
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out crypto.Hash
	h.Sum(out[:0])
	return out
}

func (testSuite) NewHasher() hash.Hash                             { return sha256.New() }
func (testSuite) GenerateKey(io.Reader) (crypto.PrivateKey, error) { return nil, errNoSig }
func (testSuite) PrivateKey([]byte) (crypto.PrivateKey, error)     { return nil, errNoSig }
func (testSuite) PublicKey([]byte) (crypto.PublicKey, error)       { return nil, errNoSig }

// memStore is an in-memory NodeReader. Reads may run concurrently; writes
// happen between them.
type memStore map[crypto.Hash][]byte

func (s memStore) Node(h crypto.Hash) ([]byte, error) {
	d, ok := s[h]
	if !ok {
		return nil, fmt.Errorf("memStore: %s: %w", h, ErrMissingNode)
	}
	return d, nil
}

// put stores nodes, checking each is well formed and correctly hashed.
func (s memStore) put(t testing.TB, nodes []Node) {
	t.Helper()
	for _, n := range nodes {
		if len(n.Data) != NodeSize || n.Data[0] > innerPrefix {
			t.Fatalf("bad node encoding %x", n.Data)
		}
		if got := suite.Hash(n.Data); got != n.Hash {
			t.Fatalf("node hash %s, want %s", n.Hash, got)
		}
		s[n.Hash] = n.Data
	}
}

// model is the reference: the tree's content as a map.
type model map[crypto.Hash]crypto.Hash

func (m model) clone() model {
	c := make(model, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m model) apply(ops []Op) {
	for _, op := range ops {
		if op.Delete {
			delete(m, op.Key)
		} else {
			m[op.Key] = op.ValueHash
		}
	}
}

func (m model) sortedKeys() []crypto.Hash {
	keys := make([]crypto.Hash, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b crypto.Hash) int { return compareKeys(a, b) })
	return keys
}

// root computes the compact tree's root from scratch, straight from the spec.
func (m model) root() crypto.Hash { return m.build(m.sortedKeys(), 0) }

func (m model) build(keys []crypto.Hash, depth int) crypto.Hash {
	switch len(keys) {
	case 0:
		return crypto.Hash{}
	case 1:
		v := m[keys[0]]
		return suite.Hash([]byte{0}, keys[0][:], v[:])
	}
	i := 0
	for i < len(keys) && !refBit(keys[i], depth) {
		i++
	}
	l, r := m.build(keys[:i], depth+1), m.build(keys[i:], depth+1)
	return suite.Hash([]byte{1}, l[:], r[:])
}

// refBit is bit i of k, most significant bit of k[0] first.
func refBit(k crypto.Hash, i int) bool { return k[i/8]&(0x80>>(i%8)) != 0 }

func compareKeys(a, b crypto.Hash) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func sortOps(ops []Op) {
	sort.Slice(ops, func(i, j int) bool { return compareKeys(ops[i].Key, ops[j].Key) < 0 })
}

func randHash(rng *rand.Rand) crypto.Hash {
	var h crypto.Hash
	for i := 0; i < len(h); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			h[i+j] = byte(v >> (8 * j))
		}
	}
	return h
}

// flipBit returns k with bit i inverted.
func flipBit(k crypto.Hash, i int) crypto.Hash {
	k[i/8] ^= 0x80 >> (i % 8)
	return k
}

func vh(s string) crypto.Hash { return suite.Hash([]byte(s)) }

// reachable returns the hashes of all nodes under root.
func reachable(t testing.TB, s memStore, root crypto.Hash) map[crypto.Hash]bool {
	t.Helper()
	seen := map[crypto.Hash]bool{}
	var walk func(h crypto.Hash)
	walk = func(h crypto.Hash) {
		if h.IsZero() {
			return
		}
		d, err := s.Node(h)
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		seen[h] = true
		if d[0] == innerPrefix {
			var l, r crypto.Hash
			copy(l[:], d[1:33])
			copy(r[:], d[33:])
			walk(l)
			walk(r)
		}
	}
	walk(root)
	return seen
}
