package httpsig

import (
	"fmt"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

// Signature algorithms ("alg" parameter).
const (
	// AlgEd25519 is EdDSA over Ed25519 (RFC 9421 section 3.3.6): the
	// signature is the 64-byte RFC 8032 signature of the signature base.
	AlgEd25519 = "ed25519"
	// AlgSM2SM3 is SM2 with SM3 (GB/T 32918.2-2016), not in the IANA HTTP
	// Signature Algorithms registry; the name is ours. The signature is the
	// ASN.1 DER SEQUENCE { r, s } (GB/T 35276-2017 section 7.3) over
	// SM3(Z_A || signature base), Z_A computed with the default user ID
	// "1234567812345678", exactly as chain/crypto/sm2sm3 signs and verifies.
	AlgSM2SM3 = "sm2-sm3"
)

const maxSigLen = 80

func algForKey(k crypto.PublicKey) (string, error) {
	switch k.(type) {
	case ed25519sha256.PublicKey, *ed25519sha256.PublicKey:
		return AlgEd25519, nil
	case *sm2sm3.PublicKey:
		return AlgSM2SM3, nil
	}
	return "", fmt.Errorf("%w: key type %T", ErrUnsupported, k)
}
