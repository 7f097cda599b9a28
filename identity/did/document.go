package did

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Type is what a DID identifies (the seed's identity structure).
type Type string

// The document types.
const (
	TypePerson       Type = "person"
	TypeDevice       Type = "device"
	TypeOrganisation Type = "organisation"
	TypeSubchain     Type = "subchain"
)

// Valid reports whether t is one of the document types.
func (t Type) Valid() bool {
	return t == TypePerson || t == TypeDevice || t == TypeOrganisation || t == TypeSubchain
}

// Verification method types, one per chain crypto suite. Ed25519 keys use
// the W3C Ed25519VerificationKey2020 type; SM2 (GB/T 32918) has no entry in
// the DID Specification Registries, so Polity defines SM2VerificationKey2024
// with the 65-byte uncompressed point as its value.
const (
	KeyTypeEd25519 = "Ed25519VerificationKey2020"
	KeyTypeSM2     = "SM2VerificationKey2024"
)

// KeyType returns the verification method type for keys of the suite
// named suiteName, or "" for an unknown suite.
func KeyType(suiteName string) string {
	switch suiteName {
	case "ed25519-sha256":
		return KeyTypeEd25519
	case "sm2-sm3":
		return KeyTypeSM2
	}
	return ""
}

// Document limits.
const (
	MaxVerificationMethods = 8
	MaxServices            = 8
	MaxAttributes          = 32
	MaxAttrNameLen         = 64
	MaxAttrValueLen        = 256
	MaxServiceTypeLen      = 64
	MaxEndpointLen         = 512
	MaxPublicKeyLen        = 128
	MaxSignatureLen        = 128
)

// ErrInvalid wraps every document validation error.
var ErrInvalid = errors.New("did: invalid document")

// VerificationMethod is a public key of the DID subject. ID is the
// fragment (the method's DID URL is <document ID>#<ID>).
type VerificationMethod struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	PublicKey []byte `json:"public_key"` // the chain suite's encoding
}

// Service is an endpoint of the DID subject (DID Core §5.4).
type Service struct {
	ID       string `json:"id"` // fragment
	Type     string `json:"type"`
	Endpoint string `json:"endpoint"` // absolute URI
}

// Document is a did:polity DID document. The registering authority's
// signature covers the identity claim (ID, Type, Controller, Attributes,
// Authority: see ClaimBytes); keys and services are the subject's to
// change, and their history is proven by the chain's state, not by the
// signature.
type Document struct {
	ID         string `json:"id"`
	Type       Type   `json:"type"`
	Controller string `json:"controller,omitempty"` // a DID that may also update this one
	// VerificationMethods are the current keys; the first is the initial
	// key at registration, from which ID is derived.
	VerificationMethods []VerificationMethod `json:"verification_methods"`
	Attributes          map[string]string    `json:"attributes,omitempty"`
	Services            []Service            `json:"services,omitempty"`
	// Authority is the DID URL of the verification method that signed the
	// claim. AuthorityKey is that method's public key when Authority is a
	// key DID (which has no document to look it up in), and empty otherwise.
	Authority    string `json:"authority"`
	AuthorityKey []byte `json:"authority_key,omitempty"`
	AuthoritySig []byte `json:"authority_sig"`
}

var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// Validate checks syntax and bounds: everything that needs no chain state
// and no crypto suite.
func (d *Document) Validate() error {
	id, err := Parse(d.ID)
	if err != nil {
		return fmt.Errorf("%w: id: %w", ErrInvalid, err)
	}
	if id.Kind != KindRegistered {
		return fmt.Errorf("%w: id %s is a key DID, not a registered one", ErrInvalid, d.ID)
	}
	if !d.Type.Valid() {
		return fmt.Errorf("%w: type %q", ErrInvalid, clip(string(d.Type)))
	}
	if d.Controller != "" {
		if _, err := Parse(d.Controller); err != nil {
			return fmt.Errorf("%w: controller: %w", ErrInvalid, err)
		}
		if d.Controller == d.ID {
			return fmt.Errorf("%w: a document cannot be its own controller", ErrInvalid)
		}
	}
	if n := len(d.VerificationMethods); n == 0 || n > MaxVerificationMethods {
		return fmt.Errorf("%w: %d verification methods, want 1..%d", ErrInvalid, n, MaxVerificationMethods)
	}
	frags := make(map[string]bool)
	for _, vm := range d.VerificationMethods {
		if !ValidFragment(vm.ID) || frags[vm.ID] {
			return fmt.Errorf("%w: verification method id %q invalid or repeated", ErrInvalid, clip(vm.ID))
		}
		frags[vm.ID] = true
		if vm.Type != KeyTypeEd25519 && vm.Type != KeyTypeSM2 {
			return fmt.Errorf("%w: verification method type %q", ErrInvalid, clip(vm.Type))
		}
		if len(vm.PublicKey) == 0 || len(vm.PublicKey) > MaxPublicKeyLen {
			return fmt.Errorf("%w: public key of %d bytes", ErrInvalid, len(vm.PublicKey))
		}
	}
	if len(d.Attributes) > MaxAttributes {
		return fmt.Errorf("%w: %d attributes, max %d", ErrInvalid, len(d.Attributes), MaxAttributes)
	}
	for k, v := range d.Attributes {
		if !attrName.MatchString(k) || len(v) > MaxAttrValueLen || !codec.Printable(v) {
			return fmt.Errorf("%w: attribute %q", ErrInvalid, clip(k))
		}
	}
	if len(d.Services) > MaxServices {
		return fmt.Errorf("%w: %d services, max %d", ErrInvalid, len(d.Services), MaxServices)
	}
	for _, s := range d.Services {
		if !ValidFragment(s.ID) || frags[s.ID] {
			return fmt.Errorf("%w: service id %q invalid or repeated", ErrInvalid, clip(s.ID))
		}
		frags[s.ID] = true
		if s.Type == "" || len(s.Type) > MaxServiceTypeLen || !codec.Printable(s.Type) {
			return fmt.Errorf("%w: service %s type", ErrInvalid, s.ID)
		}
		if err := checkEndpoint(s.Endpoint); err != nil {
			return fmt.Errorf("%w: service %s: %w", ErrInvalid, s.ID, err)
		}
	}
	auth, err := ParseURL(d.Authority)
	if err != nil {
		return fmt.Errorf("%w: authority: %w", ErrInvalid, err)
	}
	if auth.DID.String() == d.ID {
		return fmt.Errorf("%w: a document cannot attest itself", ErrInvalid)
	}
	if isKey := auth.DID.Kind == KindKey; isKey != (len(d.AuthorityKey) > 0) {
		return fmt.Errorf("%w: authority_key must be set exactly when the authority is a key DID", ErrInvalid)
	}
	if auth.DID.Kind == KindKey && auth.Fragment != KeyFragment {
		return fmt.Errorf("%w: a key DID's only method is #%s", ErrInvalid, KeyFragment)
	}
	if len(d.AuthorityKey) > MaxPublicKeyLen {
		return fmt.Errorf("%w: authority key of %d bytes", ErrInvalid, len(d.AuthorityKey))
	}
	if len(d.AuthoritySig) == 0 || len(d.AuthoritySig) > MaxSignatureLen {
		return fmt.Errorf("%w: authority signature of %d bytes", ErrInvalid, len(d.AuthoritySig))
	}
	return nil
}

func checkEndpoint(s string) error {
	if s == "" || len(s) > MaxEndpointLen || !codec.Printable(s) {
		return fmt.Errorf("endpoint must be 1..%d printable bytes", MaxEndpointLen)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
		return errors.New("endpoint must be an absolute URI")
	}
	return nil
}

// CheckKeys checks that every verification method (and the authority key)
// is a valid public key of suite s, of the suite's key type.
func (d *Document) CheckKeys(s crypto.Suite) error {
	want := KeyType(s.Name())
	for _, vm := range d.VerificationMethods {
		if vm.Type != want {
			return fmt.Errorf("%w: method %s is %s, the chain uses %s", ErrInvalid, vm.ID, vm.Type, want)
		}
		if _, err := s.PublicKey(vm.PublicKey); err != nil {
			return fmt.Errorf("%w: method %s: %w", ErrInvalid, vm.ID, err)
		}
	}
	if len(d.AuthorityKey) > 0 {
		if _, err := s.PublicKey(d.AuthorityKey); err != nil {
			return fmt.Errorf("%w: authority key: %w", ErrInvalid, err)
		}
	}
	return nil
}

// Method returns the verification method with fragment frag.
func (d *Document) Method(frag string) (VerificationMethod, bool) {
	for _, vm := range d.VerificationMethods {
		if vm.ID == frag {
			return vm, true
		}
	}
	return VerificationMethod{}, false
}

// SameClaim reports whether d and o carry the same attested claim and
// attestation (ID, type, controller, attributes, authority and signature).
func (d *Document) SameClaim(o *Document) bool {
	return string(d.ClaimBytes()) == string(o.ClaimBytes()) && string(d.AuthoritySig) == string(o.AuthoritySig)
}
