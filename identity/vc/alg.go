package vc

import (
	"fmt"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

// JWS "alg" values.
const (
	// AlgEdDSA is Ed25519 (RFC 8032) as registered for JOSE by RFC 8037
	// section 3.1: the signature is the 64-byte R || S over the JWS signing
	// input.
	AlgEdDSA = "EdDSA"
	// AlgSM2SM3 is SM2 with SM3 (GB/T 32918.2-2016) for chains on the
	// national suite. JOSE has no registered name for it; this one is ours.
	// The signature is the ASN.1 DER SEQUENCE { r, s } of GB/T 35276-2017
	// section 7.3 over SM3(Z_A || signing input) with the default user ID
	// "1234567812345678"; it verifies exactly as chain/crypto/sm2sm3's
	// PublicKey.Verify does.
	AlgSM2SM3 = "SM2SM3"
)

// maxSigLen bounds a JWS signature: 64 bytes for EdDSA, at most 72 for a DER
// SM2 signature.
const maxSigLen = 80

// algForKey returns the JWS algorithm of a key from our crypto suites.
func algForKey(k crypto.PublicKey) (string, error) {
	switch k.(type) {
	case ed25519sha256.PublicKey, *ed25519sha256.PublicKey:
		return AlgEdDSA, nil
	case *sm2sm3.PublicKey:
		return AlgSM2SM3, nil
	}
	return "", fmt.Errorf("%w: key type %T has no JWS algorithm", ErrUnknownKey, k)
}
