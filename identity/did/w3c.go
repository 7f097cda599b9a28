package did

import (
	"encoding/json"
	"fmt"
	"strings"

	ariesdid "github.com/hyperledger/aries-framework-go/component/models/did"
	"github.com/hyperledger/aries-framework-go/component/models/did/endpoint"
)

// JSON-LD contexts of a did:polity document in DID Core form. The Polity
// context defines the extension properties below.
const (
	ContextEd25519 = "https://w3id.org/security/suites/ed25519-2020/v1"
	ContextPolity  = "https://polityledger.org/ns/did/v1"
)

// Extension properties carrying what DID Core has no term for (DID Core
// §4.1 allows them; the Polity context defines them).
const (
	propType        = "polityType"
	propAttributes  = "polityAttributes"
	propAttestation = "polityAttestation"
	propController  = "controller" // DID Core §5.1.2; aries' Doc lacks it
)

// ed25519Multicodec prefixes an Ed25519 public key in publicKeyMultibase
// (W3C Ed25519VerificationKey2020: multicodec ed25519-pub, 0xed 0x01).
var ed25519Multicodec = []byte{0xed, 0x01}

// attestation is the JSON form of the authority's signature.
type attestation struct {
	Authority    string `json:"authority"`
	AuthorityKey []byte `json:"authorityKey,omitempty"`
	Signature    []byte `json:"signature"`
}

// Aries returns d in aries-framework-go's DID Core model: every
// verification method is listed under verificationMethod and referenced
// from authentication and assertionMethod. The properties aries has no
// field for (controller, type, attributes, attestation) are added by
// MarshalW3C.
func (d *Document) Aries() *ariesdid.Doc {
	ctx := []string{ariesdid.ContextV1, ContextEd25519, ContextPolity}
	vms := make([]ariesdid.VerificationMethod, 0, len(d.VerificationMethods))
	var auth, assert []ariesdid.Verification
	for _, vm := range d.VerificationMethods {
		value := vm.PublicKey
		if vm.Type == KeyTypeEd25519 {
			value = append(append([]byte(nil), ed25519Multicodec...), vm.PublicKey...)
		}
		m := ariesdid.NewVerificationMethodFromBytes(d.ID+"#"+vm.ID, vm.Type, d.ID, value)
		vms = append(vms, *m)
		auth = append(auth, *ariesdid.NewReferencedVerification(m, ariesdid.Authentication))
		assert = append(assert, *ariesdid.NewReferencedVerification(m, ariesdid.AssertionMethod))
	}
	svcs := make([]ariesdid.Service, 0, len(d.Services))
	for _, s := range d.Services {
		svcs = append(svcs, ariesdid.Service{
			ID: d.ID + "#" + s.ID, Type: s.Type,
			ServiceEndpoint: endpoint.NewDIDCommV1Endpoint(s.Endpoint), // a plain URI string
		})
	}
	doc := ariesdid.BuildDoc(ariesdid.WithVerificationMethod(vms), ariesdid.WithAuthentication(auth),
		ariesdid.WithAssertion(assert), ariesdid.WithService(svcs))
	doc.Context, doc.ID = ctx, d.ID
	return doc
}

// MarshalW3C returns d as a DID Core JSON-LD document.
func (d *Document) MarshalW3C() ([]byte, error) {
	base, err := d.Aries().JSONBytes()
	if err != nil {
		return nil, fmt.Errorf("did: DID Core encoding: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, fmt.Errorf("did: DID Core encoding: %w", err)
	}
	put := func(k string, v any) error {
		b, err := json.Marshal(v)
		m[k] = b
		return err
	}
	err = put(propType, d.Type)
	if err == nil && d.Controller != "" {
		err = put(propController, d.Controller)
	}
	if err == nil && len(d.Attributes) > 0 {
		err = put(propAttributes, d.Attributes)
	}
	if err == nil {
		err = put(propAttestation, attestation{Authority: d.Authority, AuthorityKey: d.AuthorityKey, Signature: d.AuthoritySig})
	}
	if err != nil {
		return nil, fmt.Errorf("did: DID Core encoding: %w", err)
	}
	return json.Marshal(m) // map keys sorted: deterministic
}

// extensions are the Polity properties of a DID Core document.
type extensions struct {
	Type        Type              `json:"polityType"`
	Controller  string            `json:"controller"`
	Attributes  map[string]string `json:"polityAttributes"`
	Attestation *attestation      `json:"polityAttestation"`
}

// ParseW3C parses a did:polity document in DID Core JSON (as MarshalW3C
// writes it) with aries-framework-go's parser, which validates it against
// the DID Core JSON schema, then checks it as a Polity document.
func ParseW3C(b []byte) (doc *Document, err error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalid, len(b))
	}
	defer func() {
		// aries' parser type-asserts some untrusted values; a panic there
		// is a malformed document, not a crash.
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("%w: DID Core parser: %v", ErrInvalid, p)
		}
	}()
	ad, err := ariesdid.ParseDocument(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c, _ := ariesdid.ContextPeekString(ad.Context); c != ariesdid.ContextV1 {
		return nil, fmt.Errorf("%w: first @context must be %s", ErrInvalid, ariesdid.ContextV1)
	}
	var ext extensions
	if err := json.Unmarshal(b, &ext); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if ext.Attestation == nil {
		return nil, fmt.Errorf("%w: no %s", ErrInvalid, propAttestation)
	}
	d := &Document{
		ID: ad.ID, Type: ext.Type, Controller: ext.Controller, Attributes: ext.Attributes,
		Authority: ext.Attestation.Authority, AuthorityKey: ext.Attestation.AuthorityKey,
		AuthoritySig: ext.Attestation.Signature,
	}
	if len(ad.VerificationMethod) > MaxVerificationMethods || len(ad.Service) > MaxServices {
		return nil, fmt.Errorf("%w: too many verification methods or services", ErrInvalid)
	}
	for _, vm := range ad.VerificationMethod {
		frag, ok := strings.CutPrefix(vm.ID, ad.ID+"#")
		if !ok || vm.Controller != ad.ID {
			return nil, fmt.Errorf("%w: verification method %q is not the document's own", ErrInvalid, clip(vm.ID))
		}
		value := vm.Value
		if vm.Type == KeyTypeEd25519 {
			if len(value) < 2 || value[0] != ed25519Multicodec[0] || value[1] != ed25519Multicodec[1] {
				return nil, fmt.Errorf("%w: method %s: publicKeyMultibase lacks the ed25519-pub multicodec", ErrInvalid, frag)
			}
			value = value[2:]
		}
		d.VerificationMethods = append(d.VerificationMethods, VerificationMethod{ID: frag, Type: vm.Type, PublicKey: value})
	}
	for _, s := range ad.Service {
		frag, ok := strings.CutPrefix(s.ID, ad.ID+"#")
		typ, isStr := s.Type.(string)
		uri, err := s.ServiceEndpoint.URI()
		if !ok || !isStr || err != nil || s.ServiceEndpoint.Type() != endpoint.DIDCommV1 {
			return nil, fmt.Errorf("%w: service %q must have a fragment id, a string type and a URI endpoint", ErrInvalid, clip(s.ID))
		}
		d.Services = append(d.Services, Service{ID: frag, Type: typ, Endpoint: uri})
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
