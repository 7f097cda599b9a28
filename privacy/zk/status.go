package zk

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Revocation status in-circuit. The issuer's status list is a W3C Bitstring
// Status List (https://www.w3.org/TR/vc-bitstring-status-list/): bit i is
// byte i/8, bit 7-i%8 (the left-most bit first); 1 means revoked. The list is
// cut into StatusWordBits-bit words; word w is bytes [16w, 16w+16) read as a
// big-endian integer, so bit i sits at integer bit 127 - i%128 of word i/128.
// Leaf w of a depth-StatusDepth Merkle tree is hashN(tagStatusLeaf, word w);
// the root is anchored on the identity chain. A proof opens the word holding
// the credential's index and shows the bit is 0.
const (
	StatusWordBits  = 128
	StatusDepth     = 16
	StatusCapacity  = StatusWordBits << StatusDepth // 8,388,608 entries
	MaxStatusBytes  = StatusCapacity / 8            // 1 MiB
	statusWordBytes = StatusWordBits / 8
	statusBitBits   = 7 // log2(StatusWordBits)
)

// StatusProof opens one word of a status list against its root.
type StatusProof struct {
	Word Field
	Path [StatusDepth]Field
}

// StatusList is a bitstring status list with its Merkle tree, for holders
// (to make StatusProofs) and for the identity chain (to compute the root).
type StatusList struct {
	tree  *merkleTree
	words []fr.Element // the words of the given prefix
}

// NewStatusList builds the tree over a bitstring of at most MaxStatusBytes
// bytes; bytes past its end are 0 (not revoked).
func NewStatusList(bitstring []byte) (*StatusList, error) {
	if len(bitstring) > MaxStatusBytes {
		return nil, fmt.Errorf("%w: status list is %d bytes, max %d", ErrBadInput, len(bitstring), MaxStatusBytes)
	}
	zeroLeaf := hashN(tagStatusLeaf, fr.Element{})
	leaves := make([]fr.Element, (len(bitstring)+statusWordBytes-1)/statusWordBytes)
	words := make([]fr.Element, len(leaves))
	for w := range leaves {
		var word [statusWordBytes]byte
		copy(word[:], bitstring[w*statusWordBytes:])
		if word == [statusWordBytes]byte{} {
			leaves[w] = zeroLeaf
			continue
		}
		words[w].SetBytes(word[:])
		leaves[w] = hashN(tagStatusLeaf, words[w])
	}
	return &StatusList{tree: newMerkleTree(StatusDepth, leaves, zeroLeaf), words: words}, nil
}

// StatusRoot computes the status root of a bitstring: what the identity
// chain anchors next to the status list and what verifiers put in a
// Statement. Deterministic; safe inside a chain module.
func StatusRoot(bitstring []byte) (Field, error) {
	l, err := NewStatusList(bitstring)
	if err != nil {
		return Field{}, err
	}
	return l.Root(), nil
}

// Root returns the Merkle root.
func (l *StatusList) Root() Field {
	r := l.tree.root()
	return fieldOf(&r)
}

// Proof opens the word holding index. It does not check the bit: a proof
// for a revoked index makes Prove fail with ErrUnsatisfied.
func (l *StatusList) Proof(index uint32) (StatusProof, error) {
	if index >= StatusCapacity {
		return StatusProof{}, fmt.Errorf("%w: status index %d, want below %d", ErrBadInput, index, StatusCapacity)
	}
	w := uint64(index) / StatusWordBits
	var p StatusProof
	var word fr.Element
	if w < uint64(len(l.words)) {
		word = l.words[w]
	}
	p.Word = fieldOf(&word)
	for i, s := range l.tree.path(w) {
		p.Path[i] = fieldOf(&s)
	}
	return p, nil
}

// Revoked reports whether index's bit is 1.
func (l *StatusList) Revoked(index uint32) bool {
	w := uint64(index) / StatusWordBits
	if w >= uint64(len(l.words)) {
		return false
	}
	word := l.words[w].Bytes()
	bit := index % StatusWordBits
	return word[32-statusWordBytes+bit/8]>>(7-bit%8)&1 == 1
}
