// Package crypto defines the crypto suite a chain selects in its genesis: a
// 32-byte hash and a signature scheme. Implementations live in sub-packages
// (ed25519sha256, sm2sm3); package suites maps genesis names to them.
package crypto

import (
	"encoding/hex"
	"errors"
	"hash"
	"io"
)

// HashSize is the size of every suite's digest (SHA-256 and SM3 both give 32 bytes).
const HashSize = 32

// Hash is a digest produced by a suite's hash function.
type Hash [HashSize]byte

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash decodes a 64-character hex string.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != HashSize {
		return h, ErrBadHash
	}
	copy(h[:], b)
	return h, nil
}

// Errors returned by suites.
var (
	ErrBadHash       = errors.New("crypto: hash must be 64 hex characters")
	ErrBadPublicKey  = errors.New("crypto: malformed public key")
	ErrBadPrivateKey = errors.New("crypto: malformed private key")
	ErrUnknownSuite  = errors.New("crypto: unknown suite")
)

// Suite is a hash function plus a signature scheme. Implementations are
// stateless and safe for concurrent use.
type Suite interface {
	// Name is the identifier written in genesis files, e.g. "ed25519-sha256".
	Name() string
	// Hash returns the digest of the concatenation of parts.
	Hash(parts ...[]byte) Hash
	// NewHasher returns a fresh streaming hasher of the suite's hash function.
	NewHasher() hash.Hash
	// GenerateKey creates a key pair from rand.
	GenerateKey(rand io.Reader) (PrivateKey, error)
	// PrivateKey decodes the form returned by PrivateKey.Bytes.
	PrivateKey(b []byte) (PrivateKey, error)
	// PublicKey decodes the form returned by PublicKey.Bytes; it rejects
	// encodings that are not valid points.
	PublicKey(b []byte) (PublicKey, error)
}

// PublicKey verifies signatures. Verify never panics on malformed input.
type PublicKey interface {
	Bytes() []byte
	Verify(msg, sig []byte) bool
}

// PrivateKey signs messages. Sign may use randomness (SM2 does); signatures
// from every suite verify deterministically.
type PrivateKey interface {
	Public() PublicKey
	Sign(msg []byte) ([]byte, error)
	Bytes() []byte
}

// SigItem is one signature to check: msg signed by Key.
type SigItem struct {
	Key      PublicKey
	Msg, Sig []byte
}

// BatchVerifier is implemented by suites that check many signatures faster
// together than one by one. VerifyBatch reports, for each item, exactly what
// items[i].Key.Verify(items[i].Msg, items[i].Sig) would: block validity must
// not depend on which path a node takes.
type BatchVerifier interface {
	VerifyBatch(items []SigItem) []bool
}

// VerifyAll checks every item, in one batch when the suite supports it.
func VerifyAll(s Suite, items []SigItem) []bool {
	if bv, ok := s.(BatchVerifier); ok {
		return bv.VerifyBatch(items)
	}
	ok := make([]bool, len(items))
	for i, it := range items {
		ok[i] = it.Key.Verify(it.Msg, it.Sig)
	}
	return ok
}
