package vc

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hyperledger/aries-framework-go/component/models/verifiable"

	"github.com/polityledger/polity/chain/crypto"
)

// Presentation bounds.
const (
	// MaxPresentationTTL bounds how long a presentation may be valid: it
	// answers one verifier's challenge.
	MaxPresentationTTL = time.Hour
	maxChallengeLen    = 256
)

// PresentRequest describes a presentation to sign.
type PresentRequest struct {
	Holder      string   // holder DID, the subject of every credential
	KeyID       string   // the holder's verification method
	Credentials []string // credential JWTs, 1 to MaxPresented
	Challenge   string   // the verifier's nonce
	Domain      string   // the verifier's identifier (JWT "aud")
	IssuedAt    time.Time
	Expires     time.Time // at most MaxPresentationTTL after IssuedAt
}

// presClaims are the JWT claims of a presentation (VC Data Model 1.1
// section 6.3.1: "iss" is the holder, "aud" the verifier's domain, "nonce"
// its challenge).
type presClaims struct {
	Iss   string          `json:"iss"`
	Aud   string          `json:"aud"`
	Nonce string          `json:"nonce"`
	Iat   int64           `json:"iat"`
	Exp   int64           `json:"exp"`
	Jti   string          `json:"jti,omitempty"`
	VP    json.RawMessage `json:"vp"`
}

// Present returns a presentation JWT of req's credentials signed by the
// holder's key, answering the verifier's challenge and domain.
func Present(req *PresentRequest, key crypto.PrivateKey) (string, error) {
	if err := req.validate(); err != nil {
		return "", err
	}
	vp, err := verifiable.NewPresentation(verifiable.WithJWTCredentials(req.Credentials...))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	vp.Context = credentialContexts
	vp.Holder = req.Holder
	jc, err := vp.JWTClaims(nil, false)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	raw, err := json.Marshal(jc.Presentation)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	payload, err := json.Marshal(presClaims{
		Iss: req.Holder, Aud: req.Domain, Nonce: req.Challenge,
		Iat: req.IssuedAt.Unix(), Exp: req.Expires.Unix(), VP: raw,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return signJWS(key, req.KeyID, "JWT", payload)
}

func (r *PresentRequest) validate() error {
	if err := checkDID(r.Holder); err != nil {
		return fmt.Errorf("%w: holder: %w", ErrMalformed, err)
	}
	if err := checkDIDURL(r.KeyID); err != nil || controllerOf(r.KeyID) != r.Holder {
		return fmt.Errorf("%w: key ID %q is not a verification method of %s", ErrMalformed, r.KeyID, r.Holder)
	}
	if len(r.Credentials) == 0 || len(r.Credentials) > MaxPresented {
		return fmt.Errorf("%w: %d credentials, want 1 to %d", ErrMalformed, len(r.Credentials), MaxPresented)
	}
	for i, c := range r.Credentials {
		if _, err := parseJWS(c, MaxCredentialSize); err != nil {
			return fmt.Errorf("credential %d: %w", i, err)
		}
	}
	return checkPresTimes(r.Challenge, r.Domain, r.IssuedAt.Unix(), r.Expires.Unix())
}

func checkPresTimes(challenge, domain string, iat, exp int64) error {
	if challenge == "" || domain == "" || len(challenge) > maxChallengeLen || len(domain) > maxURLLen {
		return fmt.Errorf("%w: presentation needs a challenge and a domain", ErrMalformed)
	}
	if iat <= 0 || exp <= iat || exp-iat > int64(MaxPresentationTTL/time.Second) {
		return fmt.Errorf("%w: presentation validity must be within %s", ErrMalformed, MaxPresentationTTL)
	}
	return nil
}

// VerifyPresentation checks a presentation JWT at time now for the given
// challenge and domain: the holder's current key and signature, the
// challenge, the validity period, then every credential as VerifyCredential
// does, each of which must have the holder as its subject.
func (v *Verifier) VerifyPresentation(token, challenge, domain string, now time.Time) (*Presentation, error) {
	j, err := parseJWS(token, MaxPresentationSize)
	if err != nil {
		return nil, err
	}
	if j.header.Typ != "" && j.header.Typ != "JWT" {
		return nil, fmt.Errorf("%w: typ %q", ErrMalformed, j.header.Typ)
	}
	var c presClaims
	if err := strictUnmarshal(j.payload, &c); err != nil {
		return nil, fmt.Errorf("%w: presentation claims: %w", ErrMalformed, err)
	}
	if err := checkDID(c.Iss); err != nil {
		return nil, fmt.Errorf("%w: iss: %w", ErrMalformed, err)
	}
	if err := checkPresTimes(c.Nonce, c.Aud, c.Iat, c.Exp); err != nil {
		return nil, err
	}
	if controllerOf(j.header.Kid) != c.Iss {
		return nil, fmt.Errorf("%w: %s is not a key of holder %s", ErrUnknownKey, j.header.Kid, c.Iss)
	}
	if err := v.checkSignature(j, now); err != nil {
		return nil, err
	}
	if c.Nonce != challenge || c.Aud != domain {
		return nil, fmt.Errorf("%w: presented for %q/%q", ErrChallenge, c.Aud, c.Nonce)
	}
	p := &Presentation{Holder: c.Iss, KeyID: j.header.Kid, Challenge: c.Nonce, Domain: c.Aud,
		IssuedAt: time.Unix(c.Iat, 0).UTC(), Expires: time.Unix(c.Exp, 0).UTC()}
	if err := v.checkTimes(p.IssuedAt, p.Expires, now); err != nil {
		return nil, err
	}
	creds, err := readPresented(c.VP, token, c.Iss)
	if err != nil {
		return nil, err
	}
	for i, tok := range creds {
		cred, err := v.VerifyCredential(tok, now)
		if err != nil {
			return nil, fmt.Errorf("credential %d: %w", i, err)
		}
		if cred.Subject != p.Holder {
			return nil, fmt.Errorf("%w: credential %d is about %s", ErrHolder, i, cred.Subject)
		}
		p.Credentials = append(p.Credentials, cred)
	}
	return p, nil
}

// readPresented checks the "vp" claim and returns its credential JWTs. The
// claim is checked before aries sees it: only compact JWTs may be embedded,
// so aries never validates (or fetches for) a JSON-LD credential.
func readPresented(raw json.RawMessage, token, holder string) ([]string, error) {
	var vp struct {
		Context []string `json:"@context"`
		Type    any      `json:"type"`
		Holder  string   `json:"holder"`
		Creds   []string `json:"verifiableCredential"`
	}
	if err := strictUnmarshal(raw, &vp); err != nil {
		return nil, fmt.Errorf("%w: vp claim: %w", ErrMalformed, err)
	}
	if len(vp.Creds) == 0 || len(vp.Creds) > MaxPresented {
		return nil, fmt.Errorf("%w: %d credentials, want 1 to %d", ErrMalformed, len(vp.Creds), MaxPresented)
	}
	for i, c := range vp.Creds {
		if _, err := parseJWS(c, MaxCredentialSize); err != nil {
			return nil, fmt.Errorf("credential %d: %w", i, err)
		}
	}
	ap, err := verifiable.ParsePresentation([]byte(token), verifiable.WithPresDisabledProofCheck(), verifiable.WithDisabledJSONLDChecks())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkContexts(ap.Context, ap.CustomContext); err != nil {
		return nil, err
	}
	if len(ap.Type) != 1 || ap.Type[0] != verifiable.VPType || ap.Holder != holder || len(ap.Proofs) != 0 || len(ap.CustomFields) != 0 {
		return nil, fmt.Errorf("%w: presentation must be a plain %s of its holder", ErrMalformed, verifiable.VPType)
	}
	return vp.Creds, nil
}
