package he

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// Threshold shares travel sealed with HPKE (RFC 9180) in base mode:
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. The info string binds
// the query, sender and recipient, so a sealed share cannot be replayed into
// another query or to another party; the outer Ed25519 signature
// authenticates the sender.
const sealOverhead = 32 + 16 // encapsulated key + GCM tag

func sealInfo(query, from, to string) []byte {
	b := []byte(labelSeal)
	for _, s := range []string{query, from, to} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

func sealTo(boxKey []byte, query, from, to string, plaintext []byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(boxKey)
	if err != nil {
		return nil, fmt.Errorf("%w: X25519 key of %s: %v", ErrConfig, to, err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), sealInfo(query, from, to), plaintext)
}

func openFrom(box *ecdh.PrivateKey, query, from, to string, sealed []byte) ([]byte, error) {
	k, err := hpke.NewDHKEMPrivateKey(box)
	if err != nil {
		return nil, err
	}
	pt, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.AES256GCM(), sealInfo(query, from, to), sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: threshold share from %s does not open: %v", ErrMalformed, from, err)
	}
	return pt, nil
}
