package smt

import (
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/crypto"
)

// Errors returned by Verify and Proof decoding; test with errors.Is.
var (
	// ErrMalformedProof means a proof is not in canonical form.
	ErrMalformedProof = errors.New("smt: malformed proof")
	// ErrProofMismatch means a well-formed proof does not prove the claim
	// against the root: wrong root, key, value, or presence.
	ErrProofMismatch = errors.New("smt: proof does not match root")
)

// Verify checks that p proves key holds *valueHash in the tree with the given
// root or, if valueHash is nil, that key is absent from it. It needs no
// storage. It returns nil if the proof holds, an error wrapping
// ErrMalformedProof if p is not canonical, and one wrapping ErrProofMismatch
// otherwise.
func Verify(suite crypto.Suite, root, key crypto.Hash, valueHash *crypto.Hash, p *Proof) error {
	if p == nil {
		return fmt.Errorf("%w: nil proof", ErrMalformedProof)
	}
	if err := p.validate(); err != nil {
		return err
	}
	d := len(p.Siblings)
	var buf [NodeSize]byte
	var h crypto.Hash // where the path ends; zero is the empty subtree
	switch {
	case valueHash != nil:
		if p.Other != nil {
			return fmt.Errorf("%w: proof of absence given for a value", ErrProofMismatch)
		}
		encode(buf[:], leafPrefix, &key, valueHash)
		h = suite.Hash(buf[:])
	case p.Other != nil:
		if p.Other.Key == key {
			return fmt.Errorf("%w: key is present", ErrProofMismatch)
		}
		// The other leaf must sit in the key's slot for its presence to
		// exclude the key.
		if commonPrefix(&p.Other.Key, &key) < d {
			return fmt.Errorf("%w: other leaf is off the key's path", ErrProofMismatch)
		}
		encode(buf[:], leafPrefix, &p.Other.Key, &p.Other.ValueHash)
		h = suite.Hash(buf[:])
	case d == KeyBits:
		// A path that deep ends at a leaf for the key itself.
		return fmt.Errorf("%w: empty subtree at depth %d", ErrProofMismatch, d)
	}
	for i := d - 1; i >= 0; i-- {
		if bit(&key, i) == 0 {
			encode(buf[:], innerPrefix, &h, &p.Siblings[i])
		} else {
			encode(buf[:], innerPrefix, &p.Siblings[i], &h)
		}
		h = suite.Hash(buf[:])
	}
	if h != root {
		return fmt.Errorf("%w: computed root %s", ErrProofMismatch, h)
	}
	return nil
}
