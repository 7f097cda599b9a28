// Package smt is a compact sparse Merkle tree over 256-bit keys. It commits a
// chain's state and proves both inclusion and non-inclusion of keys.
//
// The layout is the binary compact sparse Merkle tree of Diem's Jellyfish
// Merkle Tree paper (Gao, Hu, Wu, 2021) and celestiaorg/smt: a key's path is
// its bits, most significant bit of byte 0 first, 0 going left. An empty
// subtree hashes to 32 zero bytes, and a subtree holding exactly one leaf is
// that leaf, placed at the shortest prefix of its key where it is alone. So
// every inner node has at least two leaves below it, and the tree's shape, and
// its root, depend only on the set of (key, valueHash) pairs.
//
// Nodes are 65 bytes and addressed by their hash:
//
//	leaf  = 0x00 || key || valueHash
//	inner = 0x01 || leftHash || rightHash
//	hash  = suite.Hash(encoding)
//
// Keys should be hashes of the caller's raw state keys, so that paths stay
// about log2(n) deep. Values are committed as valueHash = suite.Hash(value).
//
// Storage is append-only: Update returns the nodes it created and writes
// nothing, and no node is ever rewritten, so every earlier root stays readable
// and provable for as long as the caller keeps its nodes.
package smt

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/polityledger/polity/chain/crypto"
)

// KeyBits is the key length in bits and so the greatest depth of a leaf.
const KeyBits = crypto.HashSize * 8

// NodeSize is the length of every node encoding.
const NodeSize = 1 + 2*crypto.HashSize

// Node encoding prefixes.
const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// Errors returned by Tree methods. Store errors are wrapped with the node's hash.
var (
	// ErrMissingNode is what a NodeReader returns (possibly wrapped) for an absent hash.
	ErrMissingNode = errors.New("smt: node not found")
	// ErrCorruptNode means a stored node is malformed or out of place.
	ErrCorruptNode = errors.New("smt: corrupt node")
	// ErrUnsortedKeys means a batch's keys are not strictly ascending.
	ErrUnsortedKeys = errors.New("smt: batch keys not sorted ascending and unique")
)

// NodeReader reads node encodings by hash. Implementations must be safe for
// concurrent reads and return an error wrapping ErrMissingNode for an absent
// hash. The tree does not modify or retain the returned slice.
type NodeReader interface {
	Node(h crypto.Hash) ([]byte, error)
}

// Node is a node created by Update, for the caller to persist under Hash.
type Node struct {
	Hash crypto.Hash
	Data []byte // the NodeSize-byte encoding; Hash = suite.Hash(Data)
}

// Tree reads and updates trees held in a content-addressed node store. It
// has no mutable state: its methods are safe for concurrent use if the
// NodeReader is, and any stored root can be passed to them.
type Tree struct {
	suite crypto.Suite
	nodes NodeReader
}

// New returns a Tree hashing with suite and reading nodes from nodes.
func New(suite crypto.Suite, nodes NodeReader) *Tree {
	return &Tree{suite: suite, nodes: nodes}
}

// Get returns the value hash stored under key in the tree with the given root.
func (t *Tree) Get(root, key crypto.Hash) (valueHash crypto.Hash, found bool, err error) {
	h := root
	for depth := 0; !h.IsZero(); depth++ {
		n, err := t.read(h, depth, key)
		if err != nil {
			return crypto.Hash{}, false, err
		}
		if n.leaf {
			if n.a == key {
				return n.b, true, nil
			}
			return crypto.Hash{}, false, nil
		}
		if bit(&key, depth) == 0 {
			h = n.a
		} else {
			h = n.b
		}
	}
	return crypto.Hash{}, false, nil
}

// Prove returns a proof that key is present in, or absent from, the tree with
// the given root. Which one it is follows from whether key is present.
func (t *Tree) Prove(root, key crypto.Hash) (*Proof, error) {
	p, _, err := t.ProveValue(root, key)
	return p, err
}

// ProveValue is Prove that also returns the key's value hash (nil when the
// key is absent), from the same walk down the tree.
func (t *Tree) ProveValue(root, key crypto.Hash) (*Proof, *crypto.Hash, error) {
	p := &Proof{Siblings: make([]crypto.Hash, 0, 32)} // paths are about log2(n) deep
	var value *crypto.Hash
	h := root
	for depth := 0; !h.IsZero(); depth++ {
		n, err := t.read(h, depth, key)
		if err != nil {
			return nil, nil, err
		}
		if n.leaf {
			if n.a != key {
				p.Other = &Leaf{Key: n.a, ValueHash: n.b}
			} else {
				vh := n.b
				value = &vh
			}
			break
		}
		if bit(&key, depth) == 0 {
			p.Siblings = append(p.Siblings, n.b)
			h = n.a
		} else {
			p.Siblings = append(p.Siblings, n.a)
			h = n.b
		}
	}
	if err := p.validate(); err != nil {
		// Only a non-canonical store (say an inner node over one leaf) gets here.
		return nil, nil, fmt.Errorf("%w: under root %s: %v", ErrCorruptNode, root, err)
	}
	return p, value, nil
}

// node is a decoded node: for a leaf, a and b are the key and value hash; for
// an inner node, the left and right child hashes.
type node struct {
	leaf bool
	a, b crypto.Hash
}

// read fetches and decodes node h found at depth on the path of key (any key
// below the node). It checks what it can cheaply: the encoding, that inner
// nodes are above the key length, and that a leaf's key lies under its path.
func (t *Tree) read(h crypto.Hash, depth int, key crypto.Hash) (node, error) {
	data, err := t.nodes.Node(h)
	if err != nil {
		return node{}, fmt.Errorf("smt: node %s: %w", h, err)
	}
	var n node
	if len(data) != NodeSize || data[0] > innerPrefix {
		return n, fmt.Errorf("%w: node %s: bad encoding", ErrCorruptNode, h)
	}
	n.leaf = data[0] == leafPrefix
	copy(n.a[:], data[1:1+crypto.HashSize])
	copy(n.b[:], data[1+crypto.HashSize:])
	if n.leaf && commonPrefix(&n.a, &key) < depth {
		return n, fmt.Errorf("%w: node %s: leaf key off its path at depth %d", ErrCorruptNode, h, depth)
	}
	if !n.leaf && depth >= KeyBits {
		return n, fmt.Errorf("%w: node %s: inner node at depth %d", ErrCorruptNode, h, depth)
	}
	return n, nil
}

// bit returns bit i of k, counting from the most significant bit of k[0].
func bit(k *crypto.Hash, i int) byte {
	return k[i>>3] >> (7 - uint(i&7)) & 1
}

// commonPrefix returns the number of leading bits a and b share.
func commonPrefix(a, b *crypto.Hash) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return KeyBits
}

// encode writes a node encoding into dst, which has length NodeSize.
func encode(dst []byte, prefix byte, a, b *crypto.Hash) {
	dst[0] = prefix
	copy(dst[1:], a[:])
	copy(dst[1+crypto.HashSize:], b[:])
}
