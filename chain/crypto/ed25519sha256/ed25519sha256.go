// Package ed25519sha256 implements the "ed25519-sha256" suite: Ed25519
// signatures (RFC 8032, section 5.1) and SHA-256 hashing (FIPS 180-4).
//
// Verification follows RFC 8032 section 5.1.7 with the cofactored equation
// [8][S]B = [8]R + [8][k]A, as FIPS 186-5 allows, and rejects non-canonical
// encodings of A, R and S. That one rule holds for single and batch
// verification alike (curve25519-voi), so whether a node checks a block's
// signatures one by one or in batches cannot change the block's validity.
// (Go's crypto/ed25519 uses the cofactorless equation, which batch
// verification cannot reproduce; the two differ only on signatures no
// honest signer produces.)
package ed25519sha256

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"filippo.io/edwards25519"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

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
	_ crypto.Suite         = Suite{}
	_ crypto.BatchVerifier = Suite{}
	_ crypto.PublicKey     = PublicKey{}
	_ crypto.PrivateKey    = (*PrivateKey)(nil)
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
// Recently decoded keys come from a cache (keycache.go) with their point
// already decompressed for verification.
func (Suite) PublicKey(b []byte) (crypto.PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: %s: want %d bytes, got %d", crypto.ErrBadPublicKey, Name, PublicKeySize, len(b))
	}
	var k PublicKey
	copy(k.b[:], b)
	if exp, ok := keys.Get(k.b); ok {
		k.exp = exp
		return k, nil
	}
	if !onCurve(b) {
		return nil, fmt.Errorf("%w: %s: not a point encoding", crypto.ErrBadPublicKey, Name)
	}
	// Both decoders accept exactly the canonical point encodings; should
	// voi refuse one, the key verifies from its bytes instead.
	if exp, err := voi.NewExpandedPublicKey(b); err == nil {
		k.exp = exp
		keys.Put(k.b, exp)
	}
	return k, nil
}

// PublicKey is an Ed25519 public key. Build it with Suite.PublicKey.
type PublicKey struct {
	b [PublicKeySize]byte
	// exp is the decompressed point when the key was decoded with
	// Suite.PublicKey (nil from PrivateKey.Public): verification then
	// skips decompressing A. Shared and never modified.
	exp *voi.ExpandedPublicKey
}

// Bytes returns the 32-byte encoding.
func (k PublicKey) Bytes() []byte { return append([]byte(nil), k.b[:]...) }

// verifyOpts is the suite's one verification rule (see the package doc).
var verifyOpts = &voi.Options{Verify: voi.VerifyOptionsFIPS_186_5}

// Verify reports whether sig is a valid RFC 8032 Ed25519 signature of msg
// under the cofactored rule in the package doc. Signatures that verified
// recently are answered from a cache (keycache.go).
func (k PublicKey) Verify(msg, sig []byte) bool { return k.verify(msg, sig, sigs) }

// verify is Verify with the given cache (nil: none).
func (k PublicKey) verify(msg, sig []byte, cache *crypto.SigCache) bool {
	if len(sig) != SignatureSize {
		return false
	}
	var c [32]byte
	if cache != nil {
		if c = crypto.SigKey(k.b[:], msg, sig); cache.Seen(c) {
			return true
		}
	}
	var ok bool
	if k.exp != nil {
		ok = voi.VerifyExpandedWithOptions(k.exp, msg, sig, verifyOpts)
	} else {
		ok = voi.VerifyWithOptions(k.b[:], msg, sig, verifyOpts)
	}
	if ok && cache != nil {
		cache.Add(c)
	}
	return ok
}

// VerifyBatch checks items together (Bernstein et al., "High-speed
// high-security signatures", section 5), falling back to one-by-one checks
// to say which failed. Items whose key is not from this suite fail.
// Signatures that verified recently are answered from the cache and left
// out of the batch.
func (Suite) VerifyBatch(items []crypto.SigItem) []bool { return verifyBatch(items, sigs) }

// verifyBatch is VerifyBatch with the given cache (nil: none).
func verifyBatch(items []crypto.SigItem, cache *crypto.SigCache) []bool {
	ok := make([]bool, len(items))
	bv := voi.NewBatchVerifierWithCapacity(len(items))
	var idx []int
	var cks [][32]byte
	for i, it := range items {
		k, isOurs := it.Key.(PublicKey)
		if !isOurs || len(it.Sig) != SignatureSize {
			continue
		}
		if cache != nil {
			c := crypto.SigKey(k.b[:], it.Msg, it.Sig)
			if cache.Seen(c) {
				ok[i] = true
				continue
			}
			cks = append(cks, c)
		}
		if k.exp != nil {
			bv.AddExpandedWithOptions(k.exp, it.Msg, it.Sig, verifyOpts)
		} else {
			bv.AddWithOptions(k.b[:], it.Msg, it.Sig, verifyOpts)
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return ok
	}
	_, valid := bv.Verify(nil)
	for j, i := range idx {
		ok[i] = valid[j]
		if valid[j] && cache != nil {
			cache.Add(cks[j])
		}
	}
	return ok
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

// onCurve reports whether b is the canonical encoding of a point (RFC 8032,
// section 5.1.3). edwards25519 accepts non-canonical encodings (y >= p, or
// x = 0 with the sign bit set), so re-encoding must give b back.
func onCurve(b []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(b)
	return err == nil && bytes.Equal(p.Bytes(), b)
}
