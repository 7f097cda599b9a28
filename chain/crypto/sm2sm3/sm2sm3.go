// Package sm2sm3 implements the "sm2-sm3" suite: SM2 signatures (GB/T
// 32918.2-2016) on the SM2 recommended curve (GB/T 32918.5-2017) with the
// default user ID, and SM3 hashing (GB/T 32905-2016). It is the only package
// that imports gmsm.
package sm2sm3

import (
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"hash"
	"io"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"

	"github.com/polityledger/polity/chain/crypto"
)

// Name is the suite's identifier in genesis files.
const Name = "sm2-sm3"

// Encoding sizes in bytes.
const (
	PublicKeySize  = 65 // 0x04 || X || Y, SEC 1 section 2.3.3 uncompressed point
	PrivateKeySize = 32 // big-endian scalar d in [1, n-2]
)

// UID is the signer ID hashed into Z_A (GB/T 32918.2-2016 section 5.5): the
// default ID of GM/T 0009, used for every key.
const UID = "1234567812345678"

var (
	_ crypto.Suite      = Suite{}
	_ crypto.PublicKey  = (*PublicKey)(nil)
	_ crypto.PrivateKey = (*PrivateKey)(nil)

	// signOpts makes gmsm sign SM3(Z_A || msg) rather than a caller digest.
	signOpts = sm2.NewSM2SignerOption(true, []byte(UID))
)

// Suite is the sm2-sm3 suite. The zero value is ready to use.
type Suite struct{}

// New returns the sm2-sm3 suite.
func New() crypto.Suite { return Suite{} }

// Name returns "sm2-sm3".
func (Suite) Name() string { return Name }

// Hash returns SM3 of the concatenation of parts.
func (Suite) Hash(parts ...[]byte) crypto.Hash {
	h := sm3.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out crypto.Hash
	h.Sum(out[:0])
	return out
}

// NewHasher returns an SM3 hasher.
func (Suite) NewHasher() hash.Hash { return sm3.New() }

// GenerateKey creates a key with randomness from rand (nil means
// crypto/rand.Reader). The key does not depend deterministically on rand.
func (Suite) GenerateKey(r io.Reader) (crypto.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := sm2.GenerateKey(r)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k)
}

// PrivateKey decodes a 32-byte big-endian scalar in [1, n-2], the range
// GB/T 32918.1-2016 allows.
func (Suite) PrivateKey(b []byte) (crypto.PrivateKey, error) {
	if len(b) != PrivateKeySize {
		return nil, fmt.Errorf("%w: %s: want %d bytes, got %d", crypto.ErrBadPrivateKey, Name, PrivateKeySize, len(b))
	}
	k, err := sm2.NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", crypto.ErrBadPrivateKey, Name, err)
	}
	return newPrivateKey(k)
}

// PublicKey decodes a 65-byte uncompressed point. It rejects other
// lengths and prefixes, coordinates >= p, and points not on the curve.
func (Suite) PublicKey(b []byte) (crypto.PublicKey, error) {
	if len(b) != PublicKeySize || b[0] != 4 {
		return nil, fmt.Errorf("%w: %s: want %d-byte uncompressed point", crypto.ErrBadPublicKey, Name, PublicKeySize)
	}
	k, err := sm2.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", crypto.ErrBadPublicKey, Name, err)
	}
	return &PublicKey{key: k, b: append([]byte(nil), b...)}, nil
}

// PublicKey is an SM2 public key. Build it with Suite.PublicKey.
type PublicKey struct {
	key *ecdsa.PublicKey
	b   []byte // 0x04 || X || Y
}

// Bytes returns the 65-byte uncompressed point.
func (k *PublicKey) Bytes() []byte { return append([]byte(nil), k.b...) }

// Verify reports whether sig is a valid DER-encoded SM2 signature of msg
// under the default user ID (GB/T 32918.2-2016 section 7). Signatures that
// verified recently are answered from a cache (crypto.SigCache).
func (k *PublicKey) Verify(msg, sig []byte) bool {
	if k == nil || k.key == nil {
		return false
	}
	c := crypto.SigKey(k.b, msg, sig)
	if sigs.Seen(c) {
		return true
	}
	ok := sm2.VerifyASN1WithSM2(k.key, []byte(UID), msg, sig)
	if ok {
		sigs.Add(c)
	}
	return ok
}

// sigs remembers verified signatures, as the Ed25519 suite does.
var sigs = crypto.NewSigCache(1 << 16)

// PrivateKey is an SM2 private key. Build it with Suite.GenerateKey or
// Suite.PrivateKey; the zero value is not usable.
type PrivateKey struct {
	key *sm2.PrivateKey
	d   []byte // big-endian scalar
	pub *PublicKey
}

// newPrivateKey caches the encodings, read through gmsm's ECDH view of k.
func newPrivateKey(k *sm2.PrivateKey) (*PrivateKey, error) {
	e, err := k.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", crypto.ErrBadPrivateKey, Name, err)
	}
	pub := &PublicKey{key: &k.PublicKey, b: e.PublicKey().Bytes()}
	return &PrivateKey{key: k, d: e.Bytes(), pub: pub}, nil
}

// Public returns the matching public key.
func (k *PrivateKey) Public() crypto.PublicKey { return k.pub }

// Sign returns a DER-encoded SM2 signature of msg under the default user
// ID (GB/T 32918.2-2016 section 6). The nonce comes from crypto/rand, so
// signatures differ between calls; each one verifies.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	if k.key == nil {
		return nil, crypto.ErrBadPrivateKey
	}
	return sm2.SignASN1(rand.Reader, k.key, msg, signOpts)
}

// Bytes returns the 32-byte big-endian scalar.
func (k *PrivateKey) Bytes() []byte { return append([]byte(nil), k.d...) }
