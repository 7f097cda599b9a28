package zk

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Sets for InSet proofs (e.g. the accredited schools): a depth-SetDepth
// Merkle tree whose leaf i is hashN(tagSetLeaf, member i) and whose unused
// leaves are 0 (no known preimage, so never a member). The root is public.
const (
	SetDepth   = 16
	MaxSetSize = 1 << SetDepth
)

// SetProof shows a value is leaf Index of a set tree.
type SetProof struct {
	Index uint32
	Path  [SetDepth]Field
}

// Set is a set of uint64 attribute values with its Merkle tree.
type Set struct {
	tree *merkleTree
	pos  map[uint64]uint32
}

// NewSet builds the tree over 1..MaxSetSize distinct members, in the given
// order (the order changes the root; publish the list with the root).
func NewSet(members []uint64) (*Set, error) {
	if len(members) == 0 || len(members) > MaxSetSize {
		return nil, fmt.Errorf("%w: set of %d members, want 1..%d", ErrBadInput, len(members), MaxSetSize)
	}
	s := &Set{pos: make(map[uint64]uint32, len(members))}
	leaves := make([]fr.Element, len(members))
	for i, m := range members {
		if _, dup := s.pos[m]; dup {
			return nil, fmt.Errorf("%w: duplicate set member %d", ErrBadInput, m)
		}
		s.pos[m] = uint32(i)
		leaves[i] = setLeaf(m)
	}
	s.tree = newMerkleTree(SetDepth, leaves, fr.Element{})
	return s, nil
}

func setLeaf(v uint64) fr.Element {
	var e fr.Element
	e.SetUint64(v)
	return hashN(tagSetLeaf, e)
}

// SetRoot computes the root of a set, as NewSet(members).Root().
func SetRoot(members []uint64) (Field, error) {
	s, err := NewSet(members)
	if err != nil {
		return Field{}, err
	}
	return s.Root(), nil
}

// Root returns the Merkle root.
func (s *Set) Root() Field {
	r := s.tree.root()
	return fieldOf(&r)
}

// Proof returns v's membership proof, or ErrNotMember.
func (s *Set) Proof(v uint64) (SetProof, error) {
	i, ok := s.pos[v]
	if !ok {
		return SetProof{}, fmt.Errorf("%w: %d", ErrNotMember, v)
	}
	p := SetProof{Index: i}
	for l, sib := range s.tree.path(uint64(i)) {
		p.Path[l] = fieldOf(&sib)
	}
	return p, nil
}
