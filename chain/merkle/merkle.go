// Package merkle computes the binary Merkle tree of RFC 6962 (Certificate
// Transparency) section 2.1 over an ordered list of leaves, with audit paths.
// Leaf hash = H(0x00 || leaf), interior hash = H(0x01 || left || right); the
// root of an empty list is H(). It commits a block's transactions and receipts.
package merkle

import (
	"errors"

	"github.com/polityledger/polity/chain/crypto"
)

// MaxPath bounds an audit path: 64 levels cover any list a uint64 can count.
const MaxPath = 64

// ErrBadProof is returned by Verify when the path does not lead to the root.
var ErrBadProof = errors.New("merkle: audit path does not match root")

// LeafHash hashes one leaf with the leaf domain prefix.
func LeafHash(s crypto.Suite, leaf []byte) crypto.Hash { return s.Hash([]byte{0}, leaf) }

func node(s crypto.Suite, l, r crypto.Hash) crypto.Hash { return s.Hash([]byte{1}, l[:], r[:]) }

// Tree is an RFC 6962 Merkle tree with every level kept, so that audit
// paths cost O(log n) after one O(n) build. It is immutable.
type Tree struct {
	levels [][]crypto.Hash // levels[0] the leaves, the last the root alone
	empty  crypto.Hash     // the root of no leaves
}

// NewTree builds the tree over leaves (already leaf-hashed).
func NewTree(s crypto.Suite, leaves []crypto.Hash) *Tree {
	t := &Tree{empty: s.Hash()}
	level := append([]crypto.Hash(nil), leaves...)
	t.levels = append(t.levels, level)
	// Pairing left to right and promoting an odd last node gives the RFC 6962
	// tree: its split point is the largest power of two below n at every level.
	for len(level) > 1 {
		next := make([]crypto.Hash, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				next = append(next, node(s, level[i], level[i+1]))
			} else {
				next = append(next, level[i])
			}
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

// Root returns the tree hash.
func (t *Tree) Root() crypto.Hash {
	if len(t.levels[0]) == 0 {
		return t.empty
	}
	return t.levels[len(t.levels)-1][0]
}

// Path returns the audit path for leaf index i (RFC 6962 2.1.1), nil if i
// is out of range.
func (t *Tree) Path(i int) []crypto.Hash {
	if i < 0 || i >= len(t.levels[0]) {
		return nil
	}
	var path []crypto.Hash
	for _, level := range t.levels[:len(t.levels)-1] {
		if sib := i ^ 1; sib < len(level) {
			path = append(path, level[sib])
		}
		i /= 2
	}
	return path
}

// Root returns the Merkle tree hash of leaves (already leaf-hashed).
func Root(s crypto.Suite, leaves []crypto.Hash) crypto.Hash { return NewTree(s, leaves).Root() }

// Path returns the audit path for leaf index i of leaves (RFC 6962 2.1.1).
func Path(s crypto.Suite, leaves []crypto.Hash, i int) []crypto.Hash {
	return NewTree(s, leaves).Path(i)
}

// Verify checks that leaf (already leaf-hashed) sits at index i of a tree of
// n leaves with the given root (RFC 9162 section 2.1.3.2).
func Verify(s crypto.Suite, root, leaf crypto.Hash, i, n uint64, path []crypto.Hash) error {
	if i >= n || len(path) > MaxPath {
		return ErrBadProof
	}
	fn, sn := i, n-1
	h := leaf
	for _, p := range path {
		if sn == 0 {
			return ErrBadProof
		}
		if fn&1 == 1 || fn == sn {
			h = node(s, p, h)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			h = node(s, h, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || h != root {
		return ErrBadProof
	}
	return nil
}
