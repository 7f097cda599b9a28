package vc

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/aries-framework-go/component/models/ld/validator"
	"github.com/hyperledger/aries-framework-go/component/models/verifiable"
)

// Verifier checks credentials and presentations against the identity chain
// through its three interfaces. Set the fields before first use; a Verifier
// is then safe for concurrent use.
type Verifier struct {
	Keys   KeyResolver
	Trust  TrustRegistry
	Status StatusSource
	// Skew is the clock difference tolerated on validity times.
	Skew time.Duration
	// CheckJSONLD also validates each credential as JSON-LD against the
	// embedded contexts (strict: no property left undefined). It costs a
	// JSON-LD expansion and compaction per credential.
	CheckJSONLD bool

	loaderOnce sync.Once
	loader     *ContextLoader
	loaderErr  error
}

// credClaims are the JWT claims of a credential; nothing else is accepted.
type credClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Jti string          `json:"jti,omitempty"`
	Nbf *int64          `json:"nbf"`
	Iat *int64          `json:"iat,omitempty"`
	Exp *int64          `json:"exp,omitempty"`
	VC  json.RawMessage `json:"vc"`
}

// VerifyCredential checks a credential JWT at time now: the JWS form, the
// issuer's key as of issuance (KeyResolver.KeyAt), the signature, the data
// model, the validity period, the trust registry for every type, and the
// status bit when the credential has a status entry. It returns what the
// credential says, or an error wrapping one of the package's sentinels.
func (v *Verifier) VerifyCredential(token string, now time.Time) (*Credential, error) {
	j, c, err := parseCredentialJWT(token)
	if err != nil {
		return nil, err
	}
	if err := v.checkSignature(j, time.Unix(*c.Nbf, 0).UTC()); err != nil {
		return nil, err
	}
	// The signature holds: let aries read the data model.
	cred, err := readCredential(token, j, c)
	if err != nil {
		return nil, err
	}
	if v.CheckJSONLD {
		if err := v.checkJSONLD(j.payload); err != nil {
			return nil, err
		}
	}
	if err := v.checkTimes(cred.IssuedAt, cred.Expires, now); err != nil {
		return nil, err
	}
	if err := v.checkTrust(cred); err != nil {
		return nil, err
	}
	if err := v.checkStatus(cred.Status); err != nil {
		return nil, err
	}
	return cred, nil
}

// parseCredentialJWT checks the JWS and the JWT claims, not the signature.
func parseCredentialJWT(token string) (*jws, *credClaims, error) {
	j, err := parseJWS(token, MaxCredentialSize)
	if err != nil {
		return nil, nil, err
	}
	if j.header.Typ != "" && j.header.Typ != "JWT" {
		return nil, nil, fmt.Errorf("%w: typ %q", ErrMalformed, j.header.Typ)
	}
	var c credClaims
	if err := strictUnmarshal(j.payload, &c); err != nil {
		return nil, nil, fmt.Errorf("%w: credential claims: %w", ErrMalformed, err)
	}
	if err := checkDID(c.Iss); err != nil {
		return nil, nil, fmt.Errorf("%w: iss: %w", ErrMalformed, err)
	}
	if c.Nbf == nil || *c.Nbf <= 0 || c.Iat != nil && *c.Iat != *c.Nbf || c.Exp != nil && *c.Exp <= *c.Nbf || len(c.VC) == 0 {
		return nil, nil, fmt.Errorf("%w: credential needs nbf (= iat if present), exp after it, and vc", ErrMalformed)
	}
	if controllerOf(j.header.Kid) != c.Iss {
		return nil, nil, fmt.Errorf("%w: %s is not a key of issuer %s", ErrUnknownKey, j.header.Kid, c.Iss)
	}
	return j, &c, nil
}

// Inspect decodes a credential WITHOUT verifying it: for a holder's wallet,
// or to learn which state a Bundle must prove. Never trust what it returns.
func Inspect(token string) (*Credential, error) {
	j, c, err := parseCredentialJWT(token)
	if err != nil {
		return nil, err
	}
	return readCredential(token, j, c)
}

// checkSignature resolves the key of j's kid as of at and verifies j.
func (v *Verifier) checkSignature(j *jws, at time.Time) error {
	if v.Keys == nil {
		return fmt.Errorf("%w: no key resolver", ErrUnknownKey)
	}
	key, err := v.Keys.KeyAt(j.header.Kid, at)
	if err != nil {
		return fmt.Errorf("vc: key %s at %s: %w", j.header.Kid, at.Format(time.RFC3339), err)
	}
	if key == nil {
		return fmt.Errorf("%w: resolver returned no key for %s", ErrUnknownKey, j.header.Kid)
	}
	return j.verifyWith(key)
}

// readCredential checks aries' data model against the claims and our rules.
// Only a compact JWS reaches aries, so it fetches no context and no schema.
func readCredential(token string, j *jws, c *credClaims) (*Credential, error) {
	ac, err := verifiable.ParseCredential([]byte(token), verifiable.WithDisabledProofCheck())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkContexts(ac.Context, ac.CustomContext); err != nil {
		return nil, err
	}
	if len(ac.Types) < 2 || ac.Types[0] != verifiable.VCType {
		return nil, fmt.Errorf("%w: type must be %s and at least one more", ErrMalformed, verifiable.VCType)
	}
	types := ac.Types[1:]
	if err := checkTypes(types); err != nil {
		return nil, err
	}
	if ac.Issuer.ID != c.Iss || len(ac.Issuer.CustomFields) != 0 {
		return nil, fmt.Errorf("%w: issuer is not iss", ErrMalformed)
	}
	if len(ac.Proofs) != 0 || len(ac.Schemas) != 0 || ac.Evidence != nil || len(ac.TermsOfUse) != 0 ||
		len(ac.RefreshService) != 0 || len(ac.CustomFields) != 0 || len(ac.SDJWTDisclosures) != 0 || ac.SDJWTHashAlg != "" {
		return nil, fmt.Errorf("%w: unsupported credential properties", ErrMalformed)
	}
	subs, ok := ac.Subject.([]verifiable.Subject)
	if !ok || len(subs) != 1 {
		return nil, fmt.Errorf("%w: credentialSubject must be one object", ErrMalformed)
	}
	sub := subs[0]
	if sub.ID != c.Sub {
		return nil, fmt.Errorf("%w: credentialSubject.id is not sub", ErrMalformed)
	}
	if err := checkDID(sub.ID); err != nil {
		return nil, fmt.Errorf("%w: subject: %w", ErrMalformed, err)
	}
	cred := &Credential{
		ID: ac.ID, Types: types, Issuer: c.Iss, KeyID: j.header.Kid, Alg: j.header.Alg,
		Subject: sub.ID, Claims: map[string]any(sub.CustomFields),
		IssuedAt: time.Unix(*c.Nbf, 0).UTC(), JWT: token,
	}
	if cred.Claims == nil {
		cred.Claims = map[string]any{}
	}
	if c.Exp != nil {
		cred.Expires = time.Unix(*c.Exp, 0).UTC()
	}
	if ac.Status != nil {
		st, err := parseStatus(ac.Status)
		if err != nil {
			return nil, err
		}
		cred.Status = st
	}
	return cred, nil
}

// checkJSONLD validates the "vc" claim as strict JSON-LD with the embedded
// contexts only.
func (v *Verifier) checkJSONLD(payload []byte) error {
	v.loaderOnce.Do(func() { v.loader, v.loaderErr = NewContextLoader() })
	if v.loaderErr != nil {
		return v.loaderErr
	}
	var claims struct {
		VC map[string]any `json:"vc"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	err := validator.ValidateJSONLDMap(claims.VC,
		validator.WithDocumentLoader(v.loader),
		validator.WithStrictValidation(true),
		validator.WithStrictContextURIPosition(verifiable.ContextURI))
	if err != nil {
		return fmt.Errorf("%w: JSON-LD: %w", ErrMalformed, err)
	}
	return nil
}

// checkTimes applies a validity period [from, until) with the skew; a zero
// until never expires.
func (v *Verifier) checkTimes(from, until, now time.Time) error {
	if now.Add(v.Skew).Before(from) {
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, from.Format(time.RFC3339))
	}
	if !until.IsZero() && !now.Add(-v.Skew).Before(until) {
		return fmt.Errorf("%w: at %s", ErrExpired, until.Format(time.RFC3339))
	}
	return nil
}

func (v *Verifier) checkTrust(c *Credential) error {
	if v.Trust == nil {
		return fmt.Errorf("%w: no trust registry", ErrUntrustedIssuer)
	}
	for _, t := range c.Types {
		ok, err := v.Trust.MayIssue(c.Issuer, t)
		if err != nil {
			return fmt.Errorf("vc: trust registry for %s, %s: %w", c.Issuer, t, err)
		}
		if !ok {
			return fmt.Errorf("%w: %s may not issue %s", ErrUntrustedIssuer, c.Issuer, t)
		}
	}
	return nil
}

func (v *Verifier) checkStatus(e *StatusEntry) error {
	if e == nil {
		return nil
	}
	if v.Status == nil {
		return fmt.Errorf("%w: no status source", ErrStatus)
	}
	set, err := v.Status.StatusBit(e.ListID, e.Index, e.Purpose)
	if err != nil {
		return fmt.Errorf("%w: %s[%d]: %w", ErrStatus, e.ListID, e.Index, err)
	}
	if !set {
		return nil
	}
	if e.Purpose == PurposeSuspension {
		return fmt.Errorf("%w: %s[%d]", ErrSuspended, e.ListID, e.Index)
	}
	return fmt.Errorf("%w: %s[%d]", ErrRevoked, e.ListID, e.Index)
}
