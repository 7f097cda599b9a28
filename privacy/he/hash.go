package he

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/tuneinsight/lattigo/v6/multiparty"
	"github.com/tuneinsight/lattigo/v6/utils/sampling"
)

// Domain-separation labels for every hash and signature of the protocol.
const (
	labelCRS       = "polity/he/v1/crs"
	labelPK        = "polity/he/v1/public-key"
	labelAggregate = "polity/he/v1/aggregate"
	labelResult    = "polity/he/v1/result"
	labelSign      = "polity/he/v1/message"
	labelSeal      = "polity/he/v1/threshold-share"
)

// CRSKey is the seed of a query's common reference string: SHA-256 of a
// label and the query ID. Every party derives the same common random
// polynomial from it, and no party chooses it (random-oracle model, as in
// Mouchet et al. 2021, Sec. III).
func CRSKey(queryID string) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelCRS))
	h.Write([]byte{byte(len(queryID))})
	h.Write([]byte(queryID))
	return [32]byte(h.Sum(nil))
}

// crs returns the query's common reference string as a keyed PRNG.
func crs(queryID string) multiparty.CRS {
	key := CRSKey(queryID)
	prng, err := sampling.NewKeyedPRNG(key[:])
	if err != nil {
		panic(err) // only fails on PRNG construction, never for a 32-byte key
	}
	return prng
}

// ResultHash is the hash of a decrypted result recorded on the governance
// chain: SHA-256 of a label, the vector length (uint32 big-endian) and each
// value (uint64 big-endian).
func ResultHash(values []uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte(labelResult))
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(values)))
	h.Write(b[:4])
	for _, v := range values {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	return [32]byte(h.Sum(nil))
}

// MessageHash is the hash of an encoded message recorded on the chain for
// key shares, contributions and decryption shares.
func MessageHash(data []byte) [32]byte { return sha256.Sum256(data) }

func labelled(label string, parts ...[]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write(p)
	}
	return [32]byte(h.Sum(nil))
}
