// Package ed25519sha256 implements the "ed25519-sha256" suite: Ed25519
// signatures (RFC 8032, section 5.1) and SHA-256 hashing (FIPS 180-4).
package ed25519sha256

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/big"

	"github.com/polityledger/polity/chain/crypto"
)

// Name is the suite's identifier in genesis files.
const Name = "ed25519-sha256"

// Encoding sizes in bytes.
const (
	PublicKeySize  = ed25519.PublicKeySize // RFC 8032 encoded point A
	PrivateKeySize = ed25519.SeedSize      // RFC 8032 private key (the seed)
	SignatureSize  = ed25519.SignatureSize // R || S
)

var (
	_ crypto.Suite      = Suite{}
	_ crypto.PublicKey  = PublicKey{}
	_ crypto.PrivateKey = (*PrivateKey)(nil)
)

// Suite is the ed25519-sha256 suite. The zero value is ready to use.
type Suite struct{}

// New returns the ed25519-sha256 suite.
func New() crypto.Suite { return Suite{} }

// Name returns "ed25519-sha256".
func (Suite) Name() string { return Name }

// Hash returns SHA-256 of the concatenation of parts.
func (Suite) Hash(parts ...[]byte) crypto.Hash {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out crypto.Hash
	h.Sum(out[:0])
	return out
}

// NewHasher returns a SHA-256 hasher.
func (Suite) NewHasher() hash.Hash { return sha256.New() }

// GenerateKey reads a 32-byte seed from rand (nil means a secure source).
func (Suite) GenerateKey(rand io.Reader) (crypto.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{key: k}, nil
}

// PrivateKey decodes a 32-byte seed; every seed is a valid key.
func (Suite) PrivateKey(b []byte) (crypto.PrivateKey, error) {
	if len(b) != PrivateKeySize {
		return nil, fmt.Errorf("%w: %s: want %d bytes, got %d", crypto.ErrBadPrivateKey, Name, PrivateKeySize, len(b))
	}
	return &PrivateKey{key: ed25519.NewKeyFromSeed(b)}, nil
}

// PublicKey decodes a 32-byte point encoding. It rejects what RFC 8032
// section 5.1.3 decoding rejects: y >= p, no x for y, and x = 0 with the
// sign bit set. Points of small order are valid encodings and accepted.
func (Suite) PublicKey(b []byte) (crypto.PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: %s: want %d bytes, got %d", crypto.ErrBadPublicKey, Name, PublicKeySize, len(b))
	}
	if !onCurve(b) {
		return nil, fmt.Errorf("%w: %s: not a point encoding", crypto.ErrBadPublicKey, Name)
	}
	var k PublicKey
	copy(k.b[:], b)
	return k, nil
}

// PublicKey is an Ed25519 public key. Build it with Suite.PublicKey.
type PublicKey struct{ b [PublicKeySize]byte }

// Bytes returns the 32-byte encoding.
func (k PublicKey) Bytes() []byte { return append([]byte(nil), k.b[:]...) }

// Verify reports whether sig is a valid RFC 8032 Ed25519 signature of msg,
// as checked by crypto/ed25519 (which also rejects non-canonical S).
func (k PublicKey) Verify(msg, sig []byte) bool {
	return len(sig) == SignatureSize && ed25519.Verify(k.b[:], msg, sig)
}

// PrivateKey is an Ed25519 private key. Build it with Suite.GenerateKey or
// Suite.PrivateKey; the zero value is not usable.
type PrivateKey struct{ key ed25519.PrivateKey } // seed || public key

// Public returns the matching public key.
func (k *PrivateKey) Public() crypto.PublicKey {
	var p PublicKey
	copy(p.b[:], k.key[PrivateKeySize:])
	return p
}

// Sign returns the deterministic 64-byte RFC 8032 signature of msg.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	if len(k.key) != ed25519.PrivateKeySize {
		return nil, crypto.ErrBadPrivateKey
	}
	return ed25519.Sign(k.key, msg), nil
}

// Bytes returns the 32-byte seed.
func (k *PrivateKey) Bytes() []byte { return append([]byte(nil), k.key[:PrivateKeySize]...) }

// Curve constants of edwards25519 (RFC 8032, section 5.1): the field prime
// p = 2^255 - 19 and d = -121665 / 121666 mod p.
var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), fieldP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, fieldP)
	}()
)

// onCurve reports whether the 32-byte b decodes to a point per RFC 8032
// section 5.1.3, steps 1-4: x^2 = (y^2 - 1) / (d y^2 + 1) must be a square.
// Public keys are public, so variable time is fine.
func onCurve(b []byte) bool {
	var be [32]byte // b is little-endian; be is big-endian, top bit = sign of x
	for i := range be {
		be[i] = b[31-i]
	}
	sign := be[0] >> 7
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be[:])
	if y.Cmp(fieldP) >= 0 {
		return false
	}
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := y2.Mul(y2, curveD).Add(y2, big.NewInt(1)).Mod(y2, fieldP)
	if v.ModInverse(v, fieldP) == nil { // never: -1/d is not a square
		return false
	}
	x2 := u.Mul(u, v).Mod(u, fieldP)
	if x2.Sign() == 0 {
		return sign == 0 // x = 0 has no negative
	}
	return big.Jacobi(x2, fieldP) == 1
}
