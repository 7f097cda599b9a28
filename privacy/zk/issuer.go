package zk

import (
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"
)

// Issuer signatures are EdDSA (RFC 8032 structure) on the twisted Edwards
// curve defined over the BN254 scalar field (gnark-crypto's companion curve:
// Baby Jubjub, EIP-2494, in a = -1 form), with H(R, A, M) = Poseidon2 Merkle-Damgard over the five
// field elements R.x, R.y, A.x, A.y and the commitment M. The circuits
// verify the same signature in-circuit.

// IssuerPublicKeySize and signature sizes, in bytes.
const (
	IssuerPublicKeySize  = 32
	IssuerPrivateKeySize = 96
	SignatureSize        = 64
)

// IssuerPublicKey is a compressed point in the prime-order subgroup.
type IssuerPublicKey [IssuerPublicKeySize]byte

// ParseIssuerPublicKey decodes and validates a public key (on the curve, in
// the prime-order subgroup, not the identity).
func ParseIssuerPublicKey(b []byte) (IssuerPublicKey, error) {
	var k IssuerPublicKey
	if len(b) != IssuerPublicKeySize {
		return k, fmt.Errorf("%w: issuer key is %d bytes, want %d", ErrBadInput, len(b), IssuerPublicKeySize)
	}
	copy(k[:], b)
	if _, err := k.point(); err != nil {
		return IssuerPublicKey{}, err
	}
	return k, nil
}

// point decodes k into an affine point with full validation.
func (k IssuerPublicKey) point() (twistededwards.PointAffine, error) {
	var pk eddsa.PublicKey
	if _, err := pk.SetBytes(k[:]); err != nil {
		return twistededwards.PointAffine{}, fmt.Errorf("%w: issuer key: %v", ErrBadInput, err)
	}
	// SetBytes accepts non-canonical encodings of x; insist on the one encoding.
	if enc := pk.A.Bytes(); enc != k {
		return twistededwards.PointAffine{}, fmt.Errorf("%w: issuer key not canonically encoded", ErrBadInput)
	}
	return pk.A, nil
}

// IssuerKey is an issuer's EdDSA signing key.
type IssuerKey struct {
	priv *eddsa.PrivateKey
}

// GenerateIssuerKey draws a fresh key from rand (crypto/rand in production).
func GenerateIssuerKey(rand io.Reader) (*IssuerKey, error) {
	seed := make([]byte, 32)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("zk: issuer key: %w", err)
	}
	priv, err := eddsa.GenerateKey(fixedReader(seed))
	if err != nil {
		return nil, fmt.Errorf("zk: issuer key: %w", err)
	}
	return &IssuerKey{priv: priv}, nil
}

// fixedReader feeds eddsa.GenerateKey, whose single Read may return short.
type fixedReader []byte

func (r fixedReader) Read(p []byte) (int, error) { return copy(p, r), nil }

// ParseIssuerKey decodes the 96-byte encoding of MarshalBinary.
func ParseIssuerKey(b []byte) (*IssuerKey, error) {
	if len(b) != IssuerPrivateKeySize {
		return nil, fmt.Errorf("%w: issuer private key is %d bytes, want %d", ErrBadInput, len(b), IssuerPrivateKeySize)
	}
	priv := new(eddsa.PrivateKey)
	if _, err := priv.SetBytes(b); err != nil {
		return nil, fmt.Errorf("%w: issuer private key: %v", ErrBadInput, err)
	}
	return &IssuerKey{priv: priv}, nil
}

// MarshalBinary returns public key || scalar || nonce seed (96 bytes). Secret.
func (k *IssuerKey) MarshalBinary() ([]byte, error) { return k.priv.Bytes(), nil }

// Public returns the issuer's public key.
func (k *IssuerKey) Public() IssuerPublicKey {
	return IssuerPublicKey(k.priv.PublicKey.A.Bytes())
}

// Sign commits to c and signs the commitment.
func (k *IssuerKey) Sign(c *Credential) (SignedCommitment, error) {
	com, err := c.Commitment()
	if err != nil {
		return SignedCommitment{}, err
	}
	sig, err := k.priv.Sign(com[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil {
		return SignedCommitment{}, fmt.Errorf("zk: sign commitment: %w", err)
	}
	s := SignedCommitment{Issuer: k.Public(), Commitment: com}
	copy(s.Signature[:], sig)
	return s, nil
}
