package vc

import (
	"time"
)

// Size bounds on inputs from outside.
const (
	// MaxCredentialSize bounds a credential JWT.
	MaxCredentialSize = 64 << 10
	// MaxPresented bounds the credentials in one presentation.
	MaxPresented = 16
	// MaxPresentationSize bounds a presentation JWT.
	MaxPresentationSize = MaxPresented*(MaxCredentialSize*4/3+8) + 16<<10
	// maxTypes bounds a credential's types.
	maxTypes = 8
	// maxTermLen bounds a type name or claim name.
	maxTermLen = 128
)

// Credential is what a verified credential says.
type Credential struct {
	ID      string   // jti; may be empty
	Types   []string // without the base type VerifiableCredential
	Issuer  string   // issuer DID
	KeyID   string   // the verification method that signed it
	Alg     string   // AlgEdDSA or AlgSM2SM3
	Subject string   // credentialSubject.id, a DID
	// Claims are the other credentialSubject properties, as decoded JSON
	// (strings, float64 numbers, bools, maps, slices). The caller owns them.
	Claims   map[string]any
	IssuedAt time.Time
	Expires  time.Time // zero if it never expires
	Status   *StatusEntry
	JWT      string // the credential as presented
}

// Presentation is what a verified presentation says.
type Presentation struct {
	Holder      string // holder DID, the subject of every credential
	KeyID       string
	Challenge   string
	Domain      string
	IssuedAt    time.Time
	Expires     time.Time
	Credentials []*Credential
}
