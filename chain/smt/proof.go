package smt

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/polityledger/polity/chain/crypto"
)

// Proof shows that a key is present with some value hash, or absent, in the
// tree with some root. It is the key's path from the root, as in Diem's
// SparseMerkleProof: Siblings[i] is the hash of the sibling subtree at depth
// i (zero if empty), and after len(Siblings) steps the path ends at the key's
// own leaf (inclusion), at an empty subtree, or at the leaf Other of another
// key (non-inclusion).
//
// A canonical proof, the only kind Prove makes and Verify and UnmarshalBinary
// accept, has at most KeyBits siblings (KeyBits-1 with Other) and a non-empty
// last sibling: the parent of where the path ends has at least two leaves.
type Proof struct {
	Siblings []crypto.Hash
	Other    *Leaf
}

// Leaf is the content of a leaf node.
type Leaf struct {
	Key       crypto.Hash
	ValueHash crypto.Hash
}

// Proof encoding, after celestiaorg/smt's compact proofs:
//
//	flags    1 byte: 1 if Other is present, else 0
//	depth    2 bytes, big-endian: len(Siblings)
//	bitmap   ceil(depth/8) bytes: bit i, most significant first, is set iff
//	         Siblings[i] is not zero; bits past depth are zero
//	siblings 32 bytes for each set bit, root side first
//	other    Other.Key || Other.ValueHash, if flags is 1
const (
	proofHeaderSize = 3
	flagOther       = 0x01
	// MaxProofSize bounds the encoding of a proof.
	MaxProofSize = proofHeaderSize + KeyBits/8 + (KeyBits-1)*crypto.HashSize + 2*crypto.HashSize
)

// validate checks the canonical form.
func (p *Proof) validate() error {
	d := len(p.Siblings)
	switch {
	case d > KeyBits:
		return fmt.Errorf("%w: depth %d exceeds %d", ErrMalformedProof, d, KeyBits)
	case p.Other != nil && d >= KeyBits:
		return fmt.Errorf("%w: other leaf at depth %d", ErrMalformedProof, d)
	case d > 0 && p.Siblings[d-1].IsZero():
		return fmt.Errorf("%w: deepest sibling is empty", ErrMalformedProof)
	}
	return nil
}

// MarshalBinary returns the canonical encoding of p.
func (p *Proof) MarshalBinary() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	d := len(p.Siblings)
	nb := (d + 7) / 8
	size := proofHeaderSize + nb
	for i := range p.Siblings {
		if !p.Siblings[i].IsZero() {
			size += crypto.HashSize
		}
	}
	if p.Other != nil {
		size += 2 * crypto.HashSize
	}
	out := make([]byte, proofHeaderSize+nb, size)
	if p.Other != nil {
		out[0] = flagOther
	}
	binary.BigEndian.PutUint16(out[1:], uint16(d))
	bitmap := out[proofHeaderSize:]
	for i := range p.Siblings {
		if !p.Siblings[i].IsZero() {
			bitmap[i>>3] |= 0x80 >> uint(i&7)
			out = append(out, p.Siblings[i][:]...)
		}
	}
	if p.Other != nil {
		out = append(out, p.Other.Key[:]...)
		out = append(out, p.Other.ValueHash[:]...)
	}
	return out, nil
}

// UnmarshalBinary decodes a canonical encoding into p. It rejects anything
// MarshalBinary would not produce, and leaves p unchanged on error.
func (p *Proof) UnmarshalBinary(data []byte) error {
	if len(data) < proofHeaderSize || len(data) > MaxProofSize {
		return fmt.Errorf("%w: length %d", ErrMalformedProof, len(data))
	}
	flags := data[0]
	if flags&^flagOther != 0 {
		return fmt.Errorf("%w: flags %#x", ErrMalformedProof, flags)
	}
	d := int(binary.BigEndian.Uint16(data[1:]))
	if d > KeyBits {
		return fmt.Errorf("%w: depth %d exceeds %d", ErrMalformedProof, d, KeyBits)
	}
	nb := (d + 7) / 8
	if len(data) < proofHeaderSize+nb {
		return fmt.Errorf("%w: short bitmap", ErrMalformedProof)
	}
	bitmap := data[proofHeaderSize : proofHeaderSize+nb]
	if d&7 != 0 && bitmap[nb-1]&(0xff>>uint(d&7)) != 0 {
		return fmt.Errorf("%w: bitmap bits set past depth", ErrMalformedProof)
	}
	count := 0
	for _, b := range bitmap {
		count += bits.OnesCount8(b)
	}
	want := proofHeaderSize + nb + count*crypto.HashSize
	if flags&flagOther != 0 {
		want += 2 * crypto.HashSize
	}
	if len(data) != want {
		return fmt.Errorf("%w: length %d, want %d", ErrMalformedProof, len(data), want)
	}
	var q Proof
	if d > 0 {
		q.Siblings = make([]crypto.Hash, d)
	}
	rest := data[proofHeaderSize+nb:]
	for i := 0; i < d; i++ {
		if bitmap[i>>3]&(0x80>>uint(i&7)) == 0 {
			continue
		}
		copy(q.Siblings[i][:], rest)
		rest = rest[crypto.HashSize:]
		if q.Siblings[i].IsZero() {
			return fmt.Errorf("%w: sibling %d listed but empty", ErrMalformedProof, i)
		}
	}
	if flags&flagOther != 0 {
		q.Other = &Leaf{}
		copy(q.Other.Key[:], rest)
		copy(q.Other.ValueHash[:], rest[crypto.HashSize:])
	}
	if err := q.validate(); err != nil {
		return err
	}
	*p = q
	return nil
}
