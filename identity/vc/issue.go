package vc

import (
	"encoding/json"
	"fmt"
	"time"

	util "github.com/hyperledger/aries-framework-go/component/models/util/time"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"

	"github.com/polityledger/polity/chain/crypto"
)

// IssueRequest describes a credential to issue.
type IssueRequest struct {
	ID      string   // optional credential ID (a URI), the JWT "jti"
	Types   []string // credential types besides VerifiableCredential, e.g. "StudentCredential"
	Issuer  string   // issuer DID
	KeyID   string   // the issuer's verification method: Issuer "#" fragment
	Subject string   // subject DID
	// Claims are the credentialSubject properties besides "id"; they must
	// marshal to JSON.
	Claims   map[string]any
	IssuedAt time.Time    // from the caller's clock; kept to the second
	Expires  time.Time    // zero for no expiry; kept to the second
	Status   *StatusEntry // optional revocation or suspension entry
}

// Issue returns a credential as a compact JWT (VC Data Model 1.1 section
// 6.3.1: "iss", "sub", "nbf", "iat", "exp", "jti" and the "vc" claim) signed
// by key, whose suite chooses the algorithm: Ed25519 gives AlgEdDSA, SM2
// gives AlgSM2SM3. The caller must make sure key is KeyID's current key.
func Issue(req *IssueRequest, key crypto.PrivateKey) (string, error) {
	if err := req.validate(); err != nil {
		return "", err
	}
	cred := &verifiable.Credential{
		Context: credentialContexts,
		ID:      req.ID,
		Types:   append([]string{verifiable.VCType}, req.Types...),
		Issuer:  verifiable.Issuer{ID: req.Issuer},
		Subject: verifiable.Subject{ID: req.Subject, CustomFields: req.Claims},
		Issued:  util.NewTime(req.IssuedAt.Truncate(time.Second).UTC()),
	}
	if !req.Expires.IsZero() {
		cred.Expired = util.NewTime(req.Expires.Truncate(time.Second).UTC())
	}
	if req.Status != nil {
		t := req.Status.typedID()
		cred.Status = &t
	}
	claims, err := cred.JWTClaims(false)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	tok, err := signJWS(key, req.KeyID, "JWT", payload)
	if err != nil {
		return "", err
	}
	if len(tok) > MaxCredentialSize {
		return "", fmt.Errorf("%w: credential of %d bytes exceeds %d", ErrMalformed, len(tok), MaxCredentialSize)
	}
	return tok, nil
}

func (r *IssueRequest) validate() error {
	if err := checkDID(r.Issuer); err != nil {
		return fmt.Errorf("%w: issuer: %w", ErrMalformed, err)
	}
	if err := checkDIDURL(r.KeyID); err != nil || controllerOf(r.KeyID) != r.Issuer {
		return fmt.Errorf("%w: key ID %q is not a verification method of %s", ErrMalformed, r.KeyID, r.Issuer)
	}
	if err := checkDID(r.Subject); err != nil {
		return fmt.Errorf("%w: subject: %w", ErrMalformed, err)
	}
	if len(r.ID) > maxURLLen {
		return fmt.Errorf("%w: credential ID of %d bytes", ErrMalformed, len(r.ID))
	}
	if err := checkTypes(r.Types); err != nil {
		return err
	}
	for k := range r.Claims {
		if k == "id" || k == "" || len(k) > maxTermLen {
			return fmt.Errorf("%w: claim name %q", ErrMalformed, k)
		}
	}
	if r.IssuedAt.Unix() <= 0 {
		return fmt.Errorf("%w: issuance time required", ErrMalformed)
	}
	if !r.Expires.IsZero() && !r.Expires.Truncate(time.Second).After(r.IssuedAt.Truncate(time.Second)) {
		return fmt.Errorf("%w: expiry not after issuance", ErrMalformed)
	}
	if r.Status != nil {
		return r.Status.validate()
	}
	return nil
}

// checkTypes accepts 1 to maxTypes distinct terms, none the base type.
func checkTypes(types []string) error {
	if len(types) == 0 || len(types) > maxTypes {
		return fmt.Errorf("%w: %d credential types, want 1 to %d besides %s", ErrMalformed, len(types), maxTypes, verifiable.VCType)
	}
	seen := map[string]bool{}
	for _, t := range types {
		if !isTerm(t) || t == verifiable.VCType || t == verifiable.VPType || seen[t] {
			return fmt.Errorf("%w: credential type %q", ErrMalformed, t)
		}
		seen[t] = true
	}
	return nil
}

// isTerm accepts a JSON-LD term resolved by PolityContext's vocabulary: a
// letter, then letters and digits.
func isTerm(s string) bool {
	if s == "" || len(s) > maxTermLen {
		return false
	}
	for i, c := range []byte(s) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
