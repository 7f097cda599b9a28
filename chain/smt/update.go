package smt

import (
	"bytes"
	"fmt"

	"github.com/polityledger/polity/chain/crypto"
)

// Op is one change in an Update batch.
type Op struct {
	Key       crypto.Hash
	ValueHash crypto.Hash // the new value's hash; ignored if Delete is set
	Delete    bool        // remove Key; deleting an absent key changes nothing
}

// Update applies ops to the tree with the given root and returns the new root
// and the nodes it created, each child before its parent (so a changed root
// comes last). ops must be sorted by Key, ascending, with no key twice. On
// error it returns the zero hash and no nodes.
//
// Update writes nothing: the caller persists the nodes, e.g. in the batch that
// commits the block, before relying on the new root. Nodes that did not change
// are not returned, but a returned node may already be stored (say a key went
// back to an earlier value); writing it again is harmless.
//
// The batch is applied in one recursive descent that splits the sorted ops by
// key bit at each depth, so each affected node is read and hashed once.
func (t *Tree) Update(root crypto.Hash, ops []Op) (crypto.Hash, []Node, error) {
	c, err := t.Apply(root, ops)
	return c.Root, c.Created, err
}

// Change is what one Update does to a tree.
type Change struct {
	Root    crypto.Hash
	Created []Node // as Update returns them
	// Stale are the nodes of the old tree that the new tree no longer holds.
	// A store that only needs the new root (and later ones) may delete them,
	// unless a later change creates the same node again: nodes are
	// content-addressed, so a key going back to an earlier value re-creates
	// its leaf.
	Stale []Node
}

// Apply is Update, also reporting the nodes the change made stale. Every
// node hash occurs at most once in a tree (an inner node's position is fixed
// by its leaves' common key prefix); only a leaf can move, when a neighbour
// arrives or leaves, and a moved leaf is not stale.
func (t *Tree) Apply(root crypto.Hash, ops []Op) (Change, error) {
	for i := 1; i < len(ops); i++ {
		if bytes.Compare(ops[i-1].Key[:], ops[i].Key[:]) >= 0 {
			return Change{}, fmt.Errorf("%w: key %d (%s) after %s", ErrUnsortedKeys, i, ops[i].Key, ops[i-1].Key)
		}
	}
	if len(ops) == 0 {
		return Change{Root: root}, nil
	}
	u := updater{t: t}
	r, err := u.update(root, 0, ops)
	if err != nil {
		return Change{}, err
	}
	return Change{Root: r.h, Created: u.nodes, Stale: u.stale}, nil
}

// kind is what a subtree is, as far as the updater knows.
type kind uint8

const (
	kindUnknown kind = iota // a non-empty subtree not read in this batch
	kindEmpty
	kindLeaf
	kindInner
)

// ref is a subtree's hash and kind.
type ref struct {
	h crypto.Hash
	k kind
}

// leafRef is a stored leaf that a batch moves but does not change.
type leafRef struct {
	key, valueHash, h crypto.Hash
}

// arenaNodes is how many node encodings share one allocation.
const arenaNodes = 256

// updater holds one Update call's state.
type updater struct {
	t       *Tree
	nodes   []Node
	stale   []Node
	arena   []byte // node encodings are carved from here
	scratch []Op   // rebuild's filtered ops; build never nests a rebuild
}

// update applies ops, whose keys all lie under the subtree h at depth.
func (u *updater) update(h crypto.Hash, depth int, ops []Op) (ref, error) {
	if len(ops) == 0 {
		if h.IsZero() {
			return ref{k: kindEmpty}, nil
		}
		return ref{h: h, k: kindUnknown}, nil
	}
	if h.IsZero() {
		return u.rebuild(depth, ops, nil)
	}
	n, err := u.t.read(h, depth, ops[0].Key)
	if err != nil {
		return ref{}, err
	}
	if n.leaf {
		if j := find(ops, &n.a); j >= 0 && (ops[j].Delete || ops[j].ValueHash != n.b) {
			u.retire(h, &n)
		}
		return u.rebuild(depth, ops, &leafRef{key: n.a, valueHash: n.b, h: h})
	}
	i := splitIndex(ops, depth)
	l, err := u.update(n.a, depth+1, ops[:i])
	if err != nil {
		return ref{}, err
	}
	r, err := u.update(n.b, depth+1, ops[i:])
	if err != nil {
		return ref{}, err
	}
	if l.h == n.a && r.h == n.b {
		return ref{h: h, k: kindInner}, nil
	}
	u.retire(h, &n) // this position's leaf set changed: h is nowhere in the new tree
	// Re-collapse: if one side is now empty and the other a single leaf, that
	// leaf replaces this node (and may rise further in the caller).
	switch {
	case l.h.IsZero() && r.h.IsZero():
		return ref{k: kindEmpty}, nil
	case l.h.IsZero():
		if leaf, err := u.isLeaf(&r); err != nil || leaf {
			return r, err
		}
	case r.h.IsZero():
		if leaf, err := u.isLeaf(&l); err != nil || leaf {
			return l, err
		}
	}
	return u.inner(&l.h, &r.h), nil
}

// isLeaf reports whether the non-empty subtree s is a single leaf, reading
// its root node if the batch has not already.
func (u *updater) isLeaf(s *ref) (bool, error) {
	if s.k == kindUnknown {
		data, err := u.t.nodes.Node(s.h)
		if err != nil {
			return false, fmt.Errorf("smt: node %s: %w", s.h, err)
		}
		if len(data) != NodeSize || data[0] > innerPrefix {
			return false, fmt.Errorf("%w: node %s: bad encoding", ErrCorruptNode, s.h)
		}
		s.k = kindInner
		if data[0] == leafPrefix {
			s.k = kindLeaf
		}
	}
	return s.k == kindLeaf, nil
}

// rebuild applies ops to a subtree at depth that is empty (old == nil) or the
// single leaf old, building the new subtree from scratch.
func (u *updater) rebuild(depth int, ops []Op, old *leafRef) (ref, error) {
	j := -1
	if old != nil {
		j = find(ops, &old.key)
	}
	sets := ops
	if j >= 0 || hasDelete(ops) {
		// Keep only new leaves in sets; old survives unless ops change it.
		u.scratch = u.scratch[:0]
		for i := range ops {
			op := &ops[i]
			switch {
			case i == j:
				if op.Delete {
					old = nil
				} else if op.ValueHash != old.valueHash {
					old = nil
					u.scratch = append(u.scratch, *op)
				}
			case !op.Delete:
				u.scratch = append(u.scratch, *op)
			}
		}
		sets = u.scratch
	}
	return u.build(depth, sets, old)
}

// build returns the subtree at depth holding the leaves for sets (new, sorted,
// distinct keys) and the unchanged leaf old, if not nil.
func (u *updater) build(depth int, sets []Op, old *leafRef) (ref, error) {
	n := len(sets)
	if old != nil {
		n++
	}
	switch {
	case n == 0:
		return ref{k: kindEmpty}, nil
	case n == 1 && old != nil:
		return ref{h: old.h, k: kindLeaf}, nil
	case n == 1:
		return u.leaf(&sets[0]), nil
	case depth >= KeyBits:
		// Unreachable: distinct keys part by depth KeyBits-1.
		return ref{}, fmt.Errorf("%w: two leaves with one key at depth %d", ErrCorruptNode, depth)
	}
	i := splitIndex(sets, depth)
	lo, ro := old, (*leafRef)(nil)
	if old != nil && bit(&old.key, depth) == 1 {
		lo, ro = nil, old
	}
	l, err := u.build(depth+1, sets[:i], lo)
	if err != nil {
		return ref{}, err
	}
	r, err := u.build(depth+1, sets[i:], ro)
	if err != nil {
		return ref{}, err
	}
	return u.inner(&l.h, &r.h), nil
}

// retire records the old node n, stored under h, as stale.
func (u *updater) retire(h crypto.Hash, n *node) {
	prefix := byte(innerPrefix)
	if n.leaf {
		prefix = leafPrefix
	}
	data := make([]byte, NodeSize)
	encode(data, prefix, &n.a, &n.b)
	u.stale = append(u.stale, Node{Hash: h, Data: data})
}

// leaf creates the leaf for op.
func (u *updater) leaf(op *Op) ref {
	return ref{h: u.emit(leafPrefix, &op.Key, &op.ValueHash), k: kindLeaf}
}

// inner creates the inner node over l and r.
func (u *updater) inner(l, r *crypto.Hash) ref {
	return ref{h: u.emit(innerPrefix, l, r), k: kindInner}
}

// emit encodes, hashes and records a new node.
func (u *updater) emit(prefix byte, a, b *crypto.Hash) crypto.Hash {
	if len(u.arena)+NodeSize > cap(u.arena) {
		u.arena = make([]byte, 0, arenaNodes*NodeSize)
	}
	n := len(u.arena)
	u.arena = u.arena[:n+NodeSize]
	data := u.arena[n : n+NodeSize : n+NodeSize]
	encode(data, prefix, a, b)
	h := u.t.suite.Hash(data)
	u.nodes = append(u.nodes, Node{Hash: h, Data: data})
	return h
}

// splitIndex returns the index of the first op whose key has bit depth set;
// ops are sorted and share their first depth bits.
func splitIndex(ops []Op, depth int) int {
	lo, hi := 0, len(ops)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bit(&ops[m].Key, depth) == 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// find returns the index of the op for key in the sorted ops, or -1.
func find(ops []Op, key *crypto.Hash) int {
	lo, hi := 0, len(ops)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(ops[m].Key[:], key[:]); {
		case c == 0:
			return m
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return -1
}

func hasDelete(ops []Op) bool {
	for i := range ops {
		if ops[i].Delete {
			return true
		}
	}
	return false
}
