package zk

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
)

// All hashing is Poseidon2 over the BN254 scalar field (Grassi, Khovratovich,
// Schofnegger, "Poseidon2", https://eprint.iacr.org/2023/323) with gnark's
// default parameters (width 2, 6 full and 50 partial rounds, x^5 S-box).
//
//   - compress(l, r) = P(l, r)[1] + r, the width-2 permutation with a
//     feed-forward: the Merkle node hash and the Merkle-Damgard step.
//   - hashN(tag, x1..xn) = compress(...compress(compress(0, tag), x1)..., xn):
//     Merkle-Damgard from a zero IV. Every use has a fixed arity and its own
//     domain tag as first block, so no padding is needed.
//
// The same functions are computed in-circuit (gadgets.go); tests check both
// sides agree.

// Domain tags, one per use.
const (
	tagCommitment = 1 + iota
	tagSetLeaf
	tagStatusLeaf
	tagDID
	tagStatusListID
	tagChallenge
)

var perm = poseidon2.NewDefaultPermutation()

// compress is the 2-to-1 Poseidon2 compression with feed-forward.
func compress(l, r fr.Element) fr.Element {
	x := [2]fr.Element{l, r}
	if err := perm.Permutation(x[:]); err != nil {
		panic(err) // width is 2 by construction
	}
	x[1].Add(&x[1], &r)
	return x[1]
}

// hashN hashes a fixed-arity tuple under a domain tag.
func hashN(tag uint64, xs ...fr.Element) fr.Element {
	var state, t fr.Element
	t.SetUint64(tag)
	state = compress(state, t)
	for _, x := range xs {
		state = compress(state, x)
	}
	return state
}

// hashBytes hashes a byte string of at most maxLen bytes under tag: the
// length, then 31-byte big-endian chunks (each below r), all as blocks.
func hashBytes(tag uint64, b []byte, maxLen int) (fr.Element, error) {
	if len(b) == 0 || len(b) > maxLen {
		return fr.Element{}, fmt.Errorf("%w: %d bytes, want 1..%d", ErrBadInput, len(b), maxLen)
	}
	xs := make([]fr.Element, 0, 1+(len(b)+30)/31)
	var n fr.Element
	n.SetUint64(uint64(len(b)))
	xs = append(xs, n)
	for i := 0; i < len(b); i += 31 {
		var e fr.Element
		e.SetBytes(b[i:min(i+31, len(b))])
		xs = append(xs, e)
	}
	return hashN(tag, xs...), nil
}

// Limits on the strings hashed to field elements.
const (
	MaxDIDLen          = 512
	MaxStatusListIDLen = 512
	MinNonceLen        = 16
	MaxNonceLen        = 256
)

// HashDID maps a holder DID (e.g. "did:polity:...") to the field element the
// credential commitment and the public statement carry.
func HashDID(did string) (Field, error) {
	e, err := hashBytes(tagDID, []byte(did), MaxDIDLen)
	if err != nil {
		return Field{}, fmt.Errorf("zk: hash DID: %w", err)
	}
	return fieldOf(&e), nil
}

// HashStatusListID maps a status list identifier (the status list
// credential's URL or on-chain ID) to a field element.
func HashStatusListID(id string) (Field, error) {
	e, err := hashBytes(tagStatusListID, []byte(id), MaxStatusListIDLen)
	if err != nil {
		return Field{}, fmt.Errorf("zk: hash status list id: %w", err)
	}
	return fieldOf(&e), nil
}

// ChallengeFromNonce maps a verifier's nonce to the public challenge a proof
// is bound to. The verifier picks a fresh random nonce per request (at least
// 16 bytes) and may append its own DID and purpose so a proof made for one
// verifier cannot be replayed to another.
func ChallengeFromNonce(nonce []byte) (Field, error) {
	if len(nonce) < MinNonceLen {
		return Field{}, fmt.Errorf("%w: nonce is %d bytes, want at least %d", ErrBadInput, len(nonce), MinNonceLen)
	}
	e, err := hashBytes(tagChallenge, nonce, MaxNonceLen)
	if err != nil {
		return Field{}, fmt.Errorf("zk: challenge: %w", err)
	}
	if e.IsZero() { // the circuit rejects a zero challenge
		return Field{}, fmt.Errorf("%w: nonce hashes to zero", ErrBadInput)
	}
	return fieldOf(&e), nil
}
