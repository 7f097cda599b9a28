package vc

import (
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

// KeyResolver finds the public key of a verification method. The lead
// implements it over the identity chain's DID documents and their rotation
// history; Bundle implements it from a proven DID document.
//
// KeyAt returns the key that verification method kid (a DID URL,
// "did:polity:...#key-1") had at time at: for a credential, its issuance
// time; for a presentation, the verifier's now. A key rotated out after at
// still verifies what was signed before the rotation; a key revoked as
// compromised should be reported as not valid at any time. It returns an
// error wrapping ErrUnknownKey when the method does not exist or was not
// valid at at, and any other error for a failure to look it up. It must be
// safe for concurrent use; the returned key is not modified.
type KeyResolver interface {
	KeyAt(kid string, at time.Time) (crypto.PublicKey, error)
}

// TrustRegistry says which DID may issue which credential type (the identity
// chain's trust registry). MayIssue returns false, nil for an issuer that is
// not trusted for credentialType, and an error only when the answer cannot be
// established. It must be safe for concurrent use.
type TrustRegistry interface {
	MayIssue(issuer, credentialType string) (bool, error)
}

// StatusSource reads one bit of a status list anchored on the identity chain.
// StatusBit returns the bit at index of the list listID (the entry's
// statusListCredential), whose purpose must be purpose: true means revoked
// or suspended. A list that does not exist or has another purpose is an
// error. It must be safe for concurrent use.
type StatusSource interface {
	StatusBit(listID string, index uint64, purpose Purpose) (bool, error)
}
