package zk

import (
	"fmt"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Proof is a Groth16 proof for one predicate.
type Proof struct {
	pred Predicate
	p    groth16bn254.Proof
}

// ProofSize is the length of an encoded proof: version(1) predicate(1)
// A(G1, 32) B(G2, 64) C(G1, 32), points compressed.
const ProofSize = 2 + 2*g1Size + g2Size

const proofVersion = 1

// Predicate returns the predicate the proof is for.
func (p *Proof) Predicate() Predicate { return p.pred }

// MarshalBinary encodes the proof in ProofSize bytes.
func (p *Proof) MarshalBinary() ([]byte, error) {
	if len(p.p.Commitments) != 0 {
		return nil, fmt.Errorf("%w: proof carries commitments", ErrBadInput)
	}
	e := encoder{b: make([]byte, 0, ProofSize)}
	e.b = append(e.b, proofVersion, byte(p.pred))
	e.g1(p.p.Ar)
	e.g2(p.p.Bs)
	e.g1(p.p.Krs)
	return e.b, nil
}

// UnmarshalBinary decodes exactly ProofSize bytes; points must be canonical,
// on the curve and in the prime-order subgroups.
func (p *Proof) UnmarshalBinary(b []byte) error {
	if len(b) != ProofSize {
		return fmt.Errorf("%w: proof is %d bytes, want %d", ErrBadInput, len(b), ProofSize)
	}
	if b[0] != proofVersion || !Predicate(b[1]).valid() {
		return fmt.Errorf("%w: proof header", ErrBadInput)
	}
	d := decoder{b: b[2:]}
	ar := d.g1(1)
	bs := d.g2(1)
	krs := d.g1(1)
	if err := d.done(); err != nil {
		return fmt.Errorf("zk: proof: %w", err)
	}
	*p = Proof{pred: Predicate(b[1])}
	p.p.Ar, p.p.Bs, p.p.Krs = ar[0], bs[0], krs[0]
	return nil
}
