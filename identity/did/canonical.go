package did

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
)

// encodingVersion is the only canonical document encoding understood.
const encodingVersion = 1

// MaxEncodedSize bounds a canonical document (and its JSON form).
const MaxEncodedSize = 32 << 10

// Domain tags keep the two signatures over a document apart from each
// other and from every other message the keys sign.
var (
	claimDomain    = []byte("polity/did/claim/v1\x00")
	registerDomain = []byte("polity/did/register/v1\x00")
)

// ErrBadSignature is returned when a document signature does not verify.
var ErrBadSignature = errors.New("did: bad signature")

func (d *Document) encodeClaim(w *codec.Writer) {
	w.Byte(encodingVersion)
	w.String(d.ID)
	w.String(string(d.Type))
	w.String(d.Controller)
	keys := slices.Sorted(maps.Keys(d.Attributes))
	w.Uint(uint64(len(keys)))
	for _, k := range keys {
		w.String(k)
		w.String(d.Attributes[k])
	}
	w.String(d.Authority)
	w.VarBytes(d.AuthorityKey)
}

func (d *Document) encodeRest(w *codec.Writer) {
	w.Uint(uint64(len(d.VerificationMethods)))
	for _, vm := range d.VerificationMethods {
		w.String(vm.ID)
		w.String(vm.Type)
		w.VarBytes(vm.PublicKey)
	}
	w.Uint(uint64(len(d.Services)))
	for _, s := range d.Services {
		w.String(s.ID)
		w.String(s.Type)
		w.String(s.Endpoint)
	}
}

// ClaimBytes is the message the registering authority signs: a domain tag
// and the canonical encoding of ID, Type, Controller, Attributes (sorted by
// name), Authority and AuthorityKey.
func (d *Document) ClaimBytes() []byte {
	w := codec.NewWriter(256)
	w.Fixed(claimDomain)
	d.encodeClaim(w)
	return w.Bytes()
}

// RegistrationBytes is the message the initial key signs to prove its
// holder asks for the registration: a domain tag and the whole document
// but the authority's signature.
func (d *Document) RegistrationBytes() []byte {
	w := codec.NewWriter(512)
	w.Fixed(registerDomain)
	d.encodeClaim(w)
	d.encodeRest(w)
	return w.Bytes()
}

// Encode returns the canonical binary encoding. Attributes are written in
// name order, lists in their given order, so equal documents encode equally.
func (d *Document) Encode() []byte {
	w := codec.NewWriter(512)
	d.EncodeTo(w)
	return w.Bytes()
}

// EncodeTo appends the canonical encoding to w.
func (d *Document) EncodeTo(w *codec.Writer) {
	d.encodeClaim(w)
	d.encodeRest(w)
	w.VarBytes(d.AuthoritySig)
}

// DecodeFrom reads a canonical document from r (bounds enforced while
// reading); call Validate on the result.
func DecodeFrom(r *codec.Reader) *Document {
	d := new(Document)
	if v := r.Byte("doc.version"); r.Err() == nil && v != encodingVersion {
		r.Failf("doc.version", "unsupported version %d", v)
	}
	d.ID = r.String("doc.id", MaxDIDLen)
	d.Type = Type(r.String("doc.type", 16))
	d.Controller = r.String("doc.controller", MaxDIDLen)
	if n := r.UintMax("doc.attributes", MaxAttributes); n > 0 {
		d.Attributes = make(map[string]string, n)
		prev := ""
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			k := r.String("doc.attribute.name", MaxAttrNameLen)
			v := r.String("doc.attribute.value", MaxAttrValueLen)
			if i > 0 && k <= prev {
				r.Failf("doc.attributes", "names not in strictly increasing order")
			}
			d.Attributes[k], prev = v, k
		}
	}
	d.Authority = r.String("doc.authority", MaxURLLen)
	d.AuthorityKey = r.VarBytes("doc.authority_key", MaxPublicKeyLen)
	n := r.UintMax("doc.verification_methods", MaxVerificationMethods)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		d.VerificationMethods = append(d.VerificationMethods, VerificationMethod{
			ID:        r.String("doc.vm.id", MaxFragmentLen),
			Type:      r.String("doc.vm.type", 32),
			PublicKey: r.VarBytes("doc.vm.public_key", MaxPublicKeyLen),
		})
	}
	n = r.UintMax("doc.services", MaxServices)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		d.Services = append(d.Services, Service{
			ID:       r.String("doc.service.id", MaxFragmentLen),
			Type:     r.String("doc.service.type", MaxServiceTypeLen),
			Endpoint: r.String("doc.service.endpoint", MaxEndpointLen),
		})
	}
	d.AuthoritySig = r.VarBytes("doc.authority_sig", MaxSignatureLen)
	return d
}

// Decode strictly decodes and validates one canonical document. The result
// does not alias b.
func Decode(b []byte) (*Document, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalid, len(b))
	}
	r := codec.NewReader(bytes.Clone(b))
	d := DecodeFrom(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// DecodeJSON strictly decodes and validates the JSON form (the struct tags
// of Document; byte strings in standard base64) used in transaction
// arguments: unknown fields, duplicate attribute names and trailing data
// are errors.
func DecodeJSON(b []byte) (*Document, error) {
	if len(b) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalid, len(b))
	}
	d := new(Document)
	if err := StrictJSON(b, d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	// encoding/json keeps the last of repeated object keys; re-encoding
	// must give the same attribute count, or a name was repeated.
	var raw struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(b, &raw); err == nil && len(raw.Attributes) > 0 {
		if n, err := countKeys(raw.Attributes); err != nil || n != len(d.Attributes) {
			return nil, fmt.Errorf("%w: repeated attribute name", ErrInvalid)
		}
	}
	return d, nil
}

// StrictJSON decodes exactly one JSON value into v, refusing unknown
// fields and trailing data (module.StrictJSON).
func StrictJSON(b []byte, v any) error { return module.StrictJSON(b, v) }

func countKeys(obj json.RawMessage) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, errors.New("not an object")
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // name
			return 0, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// SignClaim sets AuthoritySig to k's signature over the claim.
func (d *Document) SignClaim(k crypto.PrivateKey) error {
	sig, err := k.Sign(d.ClaimBytes())
	if err != nil {
		return err
	}
	d.AuthoritySig = sig
	return nil
}

// VerifyClaim checks the authority's signature with the authority
// method's public key pub under suite s.
func (d *Document) VerifyClaim(s crypto.Suite, pub []byte) error {
	pk, err := s.PublicKey(pub)
	if err != nil {
		return fmt.Errorf("%w: authority key: %w", ErrBadSignature, err)
	}
	if !pk.Verify(d.ClaimBytes(), d.AuthoritySig) {
		return fmt.Errorf("%w: authority signature", ErrBadSignature)
	}
	return nil
}

// SignRegistration returns the initial key's proof of possession.
func (d *Document) SignRegistration(k crypto.PrivateKey) ([]byte, error) {
	return k.Sign(d.RegistrationBytes())
}

// VerifyRegistration checks that sig is the initial key's signature over
// RegistrationBytes and that ID is derived from that key.
func (d *Document) VerifyRegistration(s crypto.Suite, sig []byte) error {
	if len(d.VerificationMethods) == 0 {
		return fmt.Errorf("%w: no initial key", ErrInvalid)
	}
	initial := d.VerificationMethods[0].PublicKey
	if want := Derive(s, initial).String(); d.ID != want {
		return fmt.Errorf("%w: id %s is not derived from the initial key (want %s)", ErrInvalid, d.ID, want)
	}
	pk, err := s.PublicKey(initial)
	if err != nil {
		return fmt.Errorf("%w: initial key: %w", ErrBadSignature, err)
	}
	if len(sig) == 0 || len(sig) > MaxSignatureLen || !pk.Verify(d.RegistrationBytes(), sig) {
		return fmt.Errorf("%w: initial key's registration signature", ErrBadSignature)
	}
	return nil
}
