// Package did implements the did:polity method's syntax and document model:
// strict parsing of DIDs and DID URLs, the document a registering authority
// attests (W3C DID Core, https://www.w3.org/TR/did-core/), its canonical
// binary encoding and signing bytes, and conversion to and from DID Core
// JSON through aries-framework-go's component/models/did. The grammar is in
// docs/did-method.md. Everything here is deterministic and free of I/O.
package did

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// Prefix starts every did:polity DID.
const Prefix = "did:polity:"

// Lengths of the two kinds of method-specific identifier.
const (
	// KeyIDLen is the length of a key DID's identifier: the hex of a
	// 20-byte account address (chain.KeyDID), naming a bare key.
	KeyIDLen = 40
	// RegisteredIDLen is the length of a registered DID's identifier: the
	// hex of 16 bytes of the hash of the document's initial key.
	RegisteredIDLen = 32
	// MaxFragmentLen bounds a DID URL fragment (a verification method or
	// service ID).
	MaxFragmentLen = 32
	// MaxDIDLen and MaxURLLen bound the strings any parser accepts.
	MaxDIDLen = len(Prefix) + KeyIDLen
	MaxURLLen = MaxDIDLen + 1 + MaxFragmentLen
)

// Errors from parsing.
var (
	ErrSyntax = errors.New("did: invalid did:polity syntax")
)

// Kind tells the two kinds of did:polity DID apart.
type Kind int

const (
	// KindKey is the implicit DID of one bare key (did:polity:<address>);
	// it needs no registration and has the single method #key-0.
	KindKey Kind = iota + 1
	// KindRegistered is a DID with a document on the identity chain.
	KindRegistered
)

// DID is a parsed did:polity DID.
type DID struct {
	ID   string // method-specific identifier, lowercase hex
	Kind Kind
}

// String returns "did:polity:<id>".
func (d DID) String() string { return Prefix + d.ID }

// Parse parses a DID strictly: no path, query or fragment, lowercase hex
// identifier of one of the two lengths.
func Parse(s string) (DID, error) {
	if len(s) > MaxDIDLen || !strings.HasPrefix(s, Prefix) {
		return DID{}, fmt.Errorf("%w: %q", ErrSyntax, clip(s))
	}
	id := s[len(Prefix):]
	var k Kind
	switch len(id) {
	case KeyIDLen:
		k = KindKey
	case RegisteredIDLen:
		k = KindRegistered
	default:
		return DID{}, fmt.Errorf("%w: identifier of %d characters", ErrSyntax, len(id))
	}
	if !lowerHex(id) {
		return DID{}, fmt.Errorf("%w: identifier is not lowercase hex", ErrSyntax)
	}
	return DID{ID: id, Kind: k}, nil
}

// URL is a parsed DID URL naming a verification method or service.
type URL struct {
	DID      DID
	Fragment string
}

// String returns "did:polity:<id>#<fragment>".
func (u URL) String() string { return u.DID.String() + "#" + u.Fragment }

// ParseURL parses "<did>#<fragment>". Paths and queries are not part of
// did:polity URLs and are refused.
func ParseURL(s string) (URL, error) {
	if len(s) > MaxURLLen {
		return URL{}, fmt.Errorf("%w: DID URL of %d bytes", ErrSyntax, len(s))
	}
	d, frag, ok := strings.Cut(s, "#")
	if !ok {
		return URL{}, fmt.Errorf("%w: DID URL %q has no fragment", ErrSyntax, clip(s))
	}
	id, err := Parse(d)
	if err != nil {
		return URL{}, err
	}
	if !ValidFragment(frag) {
		return URL{}, fmt.Errorf("%w: fragment %q", ErrSyntax, clip(frag))
	}
	return URL{DID: id, Fragment: frag}, nil
}

// ValidFragment reports whether s may name a verification method or
// service: 1 to MaxFragmentLen of A-Z a-z 0-9 - _, starting with a letter.
func ValidFragment(s string) bool {
	if s == "" || len(s) > MaxFragmentLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return false
		}
	}
	return true
}

// KeyFragment is the only fragment of a key DID.
const KeyFragment = "key-0"

// KeyDID returns the key DID of an account address, the DID part of
// chain.KeyDID.
func KeyDID(a chain.Address) DID { return DID{ID: a.String(), Kind: KindKey} }

// Address returns the account address a key DID names.
func (d DID) Address() (chain.Address, bool) {
	if d.Kind != KindKey {
		return chain.Address{}, false
	}
	a, err := chain.ParseAddress(d.ID)
	return a, err == nil
}

// registeredDomain separates the hash that names a DID from every other hash.
var registeredDomain = []byte("polity/did/id/v1\x00")

// Derive returns the registered DID whose initial key is pub: the first 16
// bytes of the suite hash of a domain tag and the key. Only the holder of
// that key can register it (registration carries the key's signature), so
// an identifier cannot be squatted.
func Derive(s crypto.Suite, pub []byte) DID {
	h := s.Hash(registeredDomain, pub)
	return DID{ID: hex.EncodeToString(h[:RegisteredIDLen/2]), Kind: KindRegistered}
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > MaxURLLen {
		return s[:MaxURLLen] + "..."
	}
	return s
}
