package zk

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"
)

// SignedCommitment is an issuer's signature over a credential commitment.
// The holder keeps it with the Credential (the opening).
type SignedCommitment struct {
	Issuer     IssuerPublicKey
	Commitment Field
	Signature  [SignatureSize]byte // R (compressed point) || S (big-endian)
}

// SignedCommitmentSize is the length of the binary encoding.
const SignedCommitmentSize = 1 + IssuerPublicKeySize + 32 + SignatureSize

const signedCommitmentVersion = 1

// Verify checks the signature natively (outside any circuit).
func (s *SignedCommitment) Verify() error {
	a, err := s.Issuer.point()
	if err != nil {
		return err
	}
	if !s.Commitment.valid() {
		return fmt.Errorf("%w: commitment not canonical", ErrBadInput)
	}
	pk := eddsa.PublicKey{A: a}
	ok, err := pk.Verify(s.Signature[:], s.Commitment[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

// Opens checks that c is the opening of this commitment and that the
// signature verifies.
func (s *SignedCommitment) Opens(c *Credential) error {
	com, err := c.Commitment()
	if err != nil {
		return err
	}
	if com != s.Commitment {
		return fmt.Errorf("%w: credential does not open the commitment", ErrBadInput)
	}
	return s.Verify()
}

// MarshalBinary encodes version(1) issuer(32) commitment(32) signature(64).
func (s *SignedCommitment) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, SignedCommitmentSize)
	b = append(b, signedCommitmentVersion)
	b = append(b, s.Issuer[:]...)
	b = append(b, s.Commitment[:]...)
	b = append(b, s.Signature[:]...)
	return b, nil
}

// UnmarshalBinary decodes the exact encoding of MarshalBinary. It validates
// the encoding (issuer point, canonical commitment, signature R and S in
// range) but does not check the signature: call Verify.
func (s *SignedCommitment) UnmarshalBinary(b []byte) error {
	if len(b) != SignedCommitmentSize {
		return fmt.Errorf("%w: signed commitment is %d bytes, want %d", ErrBadInput, len(b), SignedCommitmentSize)
	}
	if b[0] != signedCommitmentVersion {
		return fmt.Errorf("%w: signed commitment version %d", ErrBadInput, b[0])
	}
	var out SignedCommitment
	var err error
	if out.Issuer, err = ParseIssuerPublicKey(b[1:33]); err != nil {
		return err
	}
	if out.Commitment, err = ParseField(b[33:65]); err != nil {
		return err
	}
	copy(out.Signature[:], b[65:])
	if _, err := parseSignature(out.Signature); err != nil {
		return err
	}
	*s = out
	return nil
}

// parseSignature decodes R and S with gnark-crypto's checks (R in the
// subgroup, 0 < S < subgroup order) and rejects non-canonical R encodings.
func parseSignature(b [SignatureSize]byte) (*eddsa.Signature, error) {
	sig := new(eddsa.Signature)
	if _, err := sig.SetBytes(b[:]); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadInput, err)
	}
	if enc := sig.R.Bytes(); [32]byte(b[:32]) != enc {
		return nil, fmt.Errorf("%w: signature R not canonically encoded", ErrBadInput)
	}
	return sig, nil
}
