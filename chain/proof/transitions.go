package proof

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/smt"
	"github.com/polityledger/polity/chain/valset"
)

// Bounds on the validator set changes a bundle carries.
const (
	MaxTransitions     = 32
	maxSetSize         = 64 << 10
	maxTransitionsSize = maxSetSize + MaxTransitions*(1024+chain.MaxCommitSize+maxSetSize+maxSMTProof+16)
)

func (b *Certified) encodeTransitions(w *codec.Writer) error {
	if b.Anchor == nil && len(b.Transitions) == 0 {
		return nil
	}
	if b.Anchor == nil || len(b.Transitions) == 0 || len(b.Transitions) > MaxTransitions {
		return fmt.Errorf("%w: anchor set with 1..%d transitions needed, have %d", ErrMalformed, MaxTransitions, len(b.Transitions))
	}
	w.VarBytes(b.Anchor.Encode())
	w.Uint(uint64(len(b.Transitions)))
	for _, t := range b.Transitions {
		if t.Path == nil {
			return fmt.Errorf("%w: transition at %d without proof", ErrMalformed, t.Header.Height)
		}
		p, err := t.Path.MarshalBinary()
		if err != nil {
			return err
		}
		w.VarBytes(t.Header.Encode())
		w.VarBytes(t.Commit.Encode())
		w.VarBytes(t.Next.Encode())
		w.VarBytes(p)
	}
	return nil
}

// EncodeTransitions returns the canonical encoding of c's anchor set and
// transitions, empty when it has none: for formats that carry a certified
// header in parts (credential bundles).
func (c *Certified) EncodeTransitions() ([]byte, error) {
	if c.Anchor == nil && len(c.Transitions) == 0 {
		return nil, nil
	}
	w := codec.NewWriter(4096)
	if err := c.encodeTransitions(w); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

// DecodeTransitions strictly decodes what EncodeTransitions wrote into c;
// empty input leaves c without transitions.
func (c *Certified) DecodeTransitions(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if len(data) > maxTransitionsSize {
		return fmt.Errorf("%w: transitions of %d bytes", ErrMalformed, len(data))
	}
	r := codec.NewReader(data)
	rt := readTransitions(r)
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := c.decodeTransitions(rt); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if again, err := c.EncodeTransitions(); err != nil || string(again) != string(data) {
		return fmt.Errorf("%w: transitions not in canonical form", ErrMalformed)
	}
	return nil
}

// rawTransitions are the undecoded parts read by readTransitions.
type rawTransitions struct {
	anchor []byte
	items  [][4][]byte // header, commit, next set, path
}

func readTransitions(r *codec.Reader) *rawTransitions {
	rt := &rawTransitions{anchor: r.VarBytes("anchor", maxSetSize)}
	n := r.UintMax("transitions", MaxTransitions)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		rt.items = append(rt.items, [4][]byte{
			r.VarBytes("transition.header", 1024),
			r.VarBytes("transition.commit", chain.MaxCommitSize),
			r.VarBytes("transition.next", maxSetSize),
			r.VarBytes("transition.path", maxSMTProof),
		})
	}
	return rt
}

func (b *Certified) decodeTransitions(rt *rawTransitions) error {
	var err error
	if b.Anchor, err = chain.DecodeValidatorSet(rt.anchor); err != nil {
		return err
	}
	for _, it := range rt.items {
		var t Transition
		h, err := chain.DecodeHeader(it[0])
		if err != nil {
			return err
		}
		c, err := chain.DecodeCommit(it[1])
		if err != nil {
			return err
		}
		next, err := chain.DecodeValidatorSet(it[2])
		if err != nil {
			return err
		}
		t.Header, t.Commit, t.Next, t.Path = *h, *c, *next, new(smt.Proof)
		if err := t.Path.UnmarshalBinary(it[3]); err != nil {
			return err
		}
		b.Transitions = append(b.Transitions, t)
	}
	return nil
}

// verifyTransitions checks that the set certifying the bundle's header is
// trusted: it is the trusted one (or any, when trusted is zero), or the
// transitions lead to it from the trusted one, each change certified by the
// set before it and proven in that header's state.
func (b *Certified) verifyTransitions(s crypto.Suite, trusted crypto.Hash) error {
	if b.Anchor == nil && len(b.Transitions) > 0 {
		return fmt.Errorf("%w: transitions without an anchor set", ErrMalformed)
	}
	if b.Anchor == nil {
		if vh := b.Validators.Hash(s); !trusted.IsZero() && vh != trusted {
			return fmt.Errorf("%w: set %s", ErrUntrusted, vh)
		}
		return nil
	}
	sets := []*chain.ValidatorSet{b.Anchor}
	for i := range b.Transitions {
		sets = append(sets, &b.Transitions[i].Next)
	}
	for i, vs := range sets {
		if err := vs.Validate(s); err != nil {
			return fmt.Errorf("%w: set %d of the transitions: %w", ErrInvalid, i, err)
		}
	}
	if sets[len(sets)-1].Hash(s) != b.Validators.Hash(s) {
		return fmt.Errorf("%w: transitions end at another set than the header's", ErrInvalid)
	}
	var prev uint64
	for i, t := range b.Transitions {
		if t.Header.ChainID != b.Header.ChainID || t.Header.Height >= b.Header.Height || i > 0 && t.Header.Height <= prev {
			return fmt.Errorf("%w: transition %d at height %d of chain %q out of order", ErrInvalid, i, t.Header.Height, t.Header.ChainID)
		}
		prev = t.Header.Height
	}
	start := 0
	if !trusted.IsZero() {
		start = -1
		for k, vs := range sets {
			if vs.Hash(s) == trusted {
				start = k
				break
			}
		}
		if start < 0 {
			return fmt.Errorf("%w: no set of the bundle's chain of changes is %s", ErrUntrusted, trusted)
		}
	}
	key := chain.StateKeyHash(s, valset.Key())
	for i := start; i < len(b.Transitions); i++ {
		t := &b.Transitions[i]
		if len(t.Commit.Meta) != 0 {
			return fmt.Errorf("%w: transition %d carries unsigned engine metadata", ErrInvalid, i)
		}
		if err := chain.VerifyCommit(s, sets[i], &t.Header, &t.Commit); err != nil {
			return fmt.Errorf("%w: transition at %d: %w", ErrInvalid, t.Header.Height, err)
		}
		next := s.Hash(t.Next.Encode())
		if err := smt.Verify(s, t.Header.StateRoot, key, &next, t.Path); err != nil {
			return fmt.Errorf("%w: transition at %d: new set not in state: %w", ErrInvalid, t.Header.Height, err)
		}
	}
	return nil
}
