package zk

import "github.com/consensys/gnark-crypto/ecc/bn254/fr"

// merkleTree is a fixed-depth binary Merkle tree with node hash
// compress(left, right). Leaves past the given prefix hold the empty value;
// subtrees made only of empty leaves are never hashed (their roots are
// precomputed), so building costs O(prefix) hashes, not O(2^depth).
type merkleTree struct {
	levels [][]fr.Element // levels[0]: leaves prefix ... levels[depth]: [root]
	zeros  []fr.Element   // zeros[l]: root of an empty subtree of height l
}

func newMerkleTree(depth int, leaves []fr.Element, empty fr.Element) *merkleTree {
	t := &merkleTree{zeros: make([]fr.Element, depth+1), levels: make([][]fr.Element, depth+1)}
	t.zeros[0] = empty
	for l := range depth {
		t.zeros[l+1] = compress(t.zeros[l], t.zeros[l])
	}
	t.levels[0] = leaves
	for l := range depth {
		prev := t.levels[l]
		next := make([]fr.Element, (len(prev)+1)/2)
		for i := range next {
			left, right := prev[2*i], t.zeros[l]
			if 2*i+1 < len(prev) {
				right = prev[2*i+1]
			}
			if left == t.zeros[l] && right == t.zeros[l] {
				next[i] = t.zeros[l+1]
				continue
			}
			next[i] = compress(left, right)
		}
		t.levels[l+1] = next
	}
	return t
}

func (t *merkleTree) depth() int { return len(t.levels) - 1 }

func (t *merkleTree) root() fr.Element {
	if len(t.levels[t.depth()]) == 0 {
		return t.zeros[t.depth()]
	}
	return t.levels[t.depth()][0]
}

// node returns the node at level l, position i (empty subtrees included).
func (t *merkleTree) node(l int, i uint64) fr.Element {
	if i < uint64(len(t.levels[l])) {
		return t.levels[l][i]
	}
	return t.zeros[l]
}

// path returns the siblings from the leaf level up, for leaf index i.
func (t *merkleTree) path(i uint64) []fr.Element {
	sib := make([]fr.Element, t.depth())
	for l := range sib {
		sib[l] = t.node(l, (i>>l)^1)
	}
	return sib
}

// merkleRoot recomputes a root from a leaf, its index and its siblings; bit
// l of index set means the running node is the right child at level l. The
// circuit gadget computes the same thing.
func merkleRoot(leaf fr.Element, index uint64, siblings []fr.Element) fr.Element {
	cur := leaf
	for l, s := range siblings {
		if (index>>l)&1 == 1 {
			cur = compress(s, cur)
		} else {
			cur = compress(cur, s)
		}
	}
	return cur
}
