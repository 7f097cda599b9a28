package ed25519sha256

import (
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/polityledger/polity/chain/crypto"
)

// keys remembers the decompressed points of recently decoded public keys.
// Decompression (a square root in the field) is most of decoding and a
// third of verifying a signature, and a busy chain sees the same senders
// again and again. Decoding is a pure function of the 32 bytes, so a hit
// answers exactly as decoding would (about 1.5 KiB an entry).
var keys = crypto.Cache[[PublicKeySize]byte, *voi.ExpandedPublicKey]{Size: 4096}

// sigs remembers verified signatures (crypto.SigCache): 2 × 64k entries,
// a few MiB, several seconds of transactions at full load.
var sigs = crypto.NewSigCache(1 << 16)

// SigStats reports how many signatures this process verified with the
// suite and how many it answered from the cache.
func SigStats() crypto.SigStats { return sigs.Stats() }
