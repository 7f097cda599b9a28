package httpsig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

// KeyResolver finds the current key of a verification method. The lead
// implements it over the identity chain. CurrentKey returns the key keyid
// (a DID URL) has now, or an error wrapping ErrUnknownKey if the method does
// not exist, was rotated away or revoked; any other error means the lookup
// failed. It must be safe for concurrent use.
type KeyResolver interface {
	CurrentKey(ctx context.Context, keyid string) (crypto.PublicKey, error)
}

// Config configures a Verifier.
type Config struct {
	Keys KeyResolver
	// Now is the clock; required (time.Now in a server).
	Now func() time.Time
	// MaxSkew is the clock difference tolerated on created and expires.
	MaxSkew time.Duration
	// MaxValidity bounds expires - created.
	MaxValidity time.Duration
	// Label is the signature label verified.
	Label string
	// Scheme is the scheme clients reach the server by, for @target-uri
	// ("https" behind a TLS-terminating proxy); empty takes it from r.TLS.
	Scheme string
	// MaxBody bounds the body Middleware reads.
	MaxBody int64
	// MaxNonces bounds the replay cache.
	MaxNonces int
}

// DefaultConfig returns the defaults; set Keys.
func DefaultConfig() Config {
	return Config{
		Now:         time.Now,
		MaxSkew:     30 * time.Second,
		MaxValidity: 5 * time.Minute,
		Label:       DefaultLabel,
		MaxBody:     1 << 20,
		MaxNonces:   1 << 20,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Keys == nil || c.Now == nil:
		return errors.New("httpsig: config needs Keys and Now")
	case c.MaxSkew < 0 || c.MaxSkew > 10*time.Minute:
		return errors.New("httpsig: MaxSkew must be within [0, 10m]")
	case c.MaxValidity <= 0 || c.MaxValidity > time.Hour:
		return errors.New("httpsig: MaxValidity must be within (0, 1h]")
	case c.Label == "":
		return errors.New("httpsig: Label required")
	case c.MaxBody <= 0 || c.MaxNonces <= 0:
		return errors.New("httpsig: MaxBody and MaxNonces must be positive")
	}
	return nil
}

// Verifier checks signed requests. Safe for concurrent use.
type Verifier struct {
	cfg    Config
	nonces *nonceCache
}

// NewVerifier returns a verifier for a valid configuration.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{cfg: cfg, nonces: newNonceCache(cfg.MaxNonces)}, nil
}

// Result is an authenticated request's signer.
type Result struct {
	DID     string // the controller of KeyID
	KeyID   string
	Created time.Time
	Expires time.Time
	Nonce   string
}

// Size bounds on signature fields.
const (
	maxFieldLen = 8 << 10
	maxKeyID    = 512
	minNonce    = 16
	maxNonce    = 128
)

// required lists the components every signed request must cover.
var required = []string{CompMethod, CompAuthority, CompPath, CompQuery}

// sigInput is one parsed signature.
type sigInput struct {
	covered []item
	params  []param
	sig     []byte

	created, expires int64
	nonce, keyid     string
	alg              string
	has              map[string]bool
}

// parseSignature reads the label's member from Signature-Input and
// Signature.
func parseSignature(input, signature, label string) (*sigInput, error) {
	if input == "" || signature == "" {
		return nil, fmt.Errorf("%w: Signature-Input and Signature required", ErrMissing)
	}
	if len(input) > maxFieldLen || len(signature) > maxFieldLen {
		return nil, fmt.Errorf("%w: signature fields over %d bytes", ErrMalformed, maxFieldLen)
	}
	ins, err := parseDictionary(input)
	if err != nil {
		return nil, fmt.Errorf("%w: Signature-Input: %w", ErrMalformed, err)
	}
	sigs, err := parseDictionary(signature)
	if err != nil {
		return nil, fmt.Errorf("%w: Signature: %w", ErrMalformed, err)
	}
	in, ok1 := findMember(ins, label)
	sg, ok2 := findMember(sigs, label)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: no signature labelled %q", ErrMissing, label)
	}
	if !in.isList || sg.isList || sg.item.val.kind != kBytes || len(sg.item.params) != 0 {
		return nil, fmt.Errorf("%w: %q is not an inner list with a byte-sequence signature", ErrMalformed, label)
	}
	if n := len(sg.item.val.b); n == 0 || n > maxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, n)
	}
	s := &sigInput{covered: in.list, params: in.params, sig: sg.item.val.b, has: map[string]bool{}}
	for _, p := range in.params {
		s.has[p.key] = true
		switch p.key {
		case "created", "expires":
			if p.val.kind != kInt || p.val.i < 0 {
				return nil, fmt.Errorf("%w: %s must be a non-negative integer", ErrMalformed, p.key)
			}
			if p.key == "created" {
				s.created = p.val.i
			} else {
				s.expires = p.val.i
			}
		case "nonce", "keyid", "alg", "tag":
			if p.val.kind != kString {
				return nil, fmt.Errorf("%w: %s must be a string", ErrMalformed, p.key)
			}
			switch p.key {
			case "nonce":
				s.nonce = p.val.s
			case "keyid":
				s.keyid = p.val.s
			case "alg":
				s.alg = p.val.s
			}
		default:
			return nil, fmt.Errorf("%w: signature parameter %q", ErrUnsupported, p.key)
		}
	}
	return s, nil
}

func findMember(ms []member, key string) (member, bool) {
	for _, m := range ms {
		if m.key == key {
			return m, true
		}
	}
	return member{}, false
}

// verifyBase checks s's signature over m with key.
func verifyBase(m *message, s *sigInput, key crypto.PublicKey) error {
	alg, err := algForKey(key)
	if err != nil {
		return err
	}
	if s.has["alg"] && s.alg != alg {
		return fmt.Errorf("%w: alg %q does not fit the key (%s)", ErrBadSignature, s.alg, alg)
	}
	base, err := signatureBase(m, s.covered, s.params)
	if err != nil {
		return err
	}
	if !key.Verify([]byte(base), s.sig) {
		return fmt.Errorf("%w: by %s", ErrBadSignature, s.keyid)
	}
	return nil
}

// Verify authenticates r, whose body the caller has read into body (nil or
// empty for none). It checks, in order: the signature fields, the
// parameters (created, expires, nonce, keyid, alg all present), times
// against the clock, the covered components (@method, @authority, @path,
// @query; content-type and content-digest when there is a body), the
// digest, the keyid's current key and the signature, and last the nonce,
// which it then remembers until the signature expires.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Result, error) {
	s, err := parseSignature(strings.Join(r.Header.Values("Signature-Input"), ", "),
		strings.Join(r.Header.Values("Signature"), ", "), v.cfg.Label)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"created", "expires", "nonce", "keyid", "alg"} {
		if !s.has[p] {
			return nil, fmt.Errorf("%w: parameter %s required", ErrMalformed, p)
		}
	}
	if len(s.keyid) > maxKeyID || len(s.nonce) < minNonce || len(s.nonce) > maxNonce {
		return nil, fmt.Errorf("%w: keyid up to %d bytes, nonce %d to %d", ErrMalformed, maxKeyID, minNonce, maxNonce)
	}
	did, err := didOf(s.keyid)
	if err != nil {
		return nil, err
	}
	if s.alg != AlgEd25519 && s.alg != AlgSM2SM3 {
		return nil, fmt.Errorf("%w: alg %q", ErrUnsupported, s.alg)
	}
	now := v.cfg.Now()
	created, expires := time.Unix(s.created, 0), time.Unix(s.expires, 0)
	switch {
	case s.expires <= s.created || expires.Sub(created) > v.cfg.MaxValidity:
		return nil, fmt.Errorf("%w: created %d, expires %d, at most %s", ErrValidity, s.created, s.expires, v.cfg.MaxValidity)
	case created.After(now.Add(v.cfg.MaxSkew)):
		return nil, fmt.Errorf("%w: created %s", ErrNotYetValid, created.UTC().Format(time.RFC3339))
	case !now.Add(-v.cfg.MaxSkew).Before(expires):
		return nil, fmt.Errorf("%w: at %s", ErrExpired, expires.UTC().Format(time.RFC3339))
	}
	need := required
	digest := r.Header.Get("Content-Digest")
	if len(body) > 0 || r.ContentLength > 0 || digest != "" {
		need = append(need[:len(need):len(need)], "content-type", "content-digest")
	}
	for _, c := range need {
		if !covers(s.covered, c) {
			return nil, fmt.Errorf("%w: %s", ErrMissingComponent, c)
		}
	}
	if digest != "" || len(body) > 0 {
		if err := checkDigest(strings.Join(r.Header.Values("Content-Digest"), ", "), body); err != nil {
			return nil, err
		}
	}
	key, err := v.cfg.Keys.CurrentKey(r.Context(), s.keyid)
	if err != nil {
		return nil, fmt.Errorf("httpsig: key %s: %w", s.keyid, err)
	}
	scheme := v.cfg.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	m := serverMessage(r, scheme)
	if err := verifyBase(&m, s, key); err != nil {
		return nil, err
	}
	// Only a verified signature may take a place in the replay cache.
	if err := v.nonces.add(s.keyid+" "+s.nonce, expires.Add(v.cfg.MaxSkew), now); err != nil {
		return nil, fmt.Errorf("%w: nonce %q of %s", err, s.nonce, s.keyid)
	}
	return &Result{DID: did, KeyID: s.keyid, Created: created, Expires: expires, Nonce: s.nonce}, nil
}

func covers(covered []item, name string) bool {
	for _, c := range covered {
		if c.val.kind == kString && c.val.s == name {
			return true
		}
	}
	return false
}

// didOf returns the DID of a DID URL "did:method:id#fragment".
func didOf(keyid string) (string, error) {
	did, frag, ok := strings.Cut(keyid, "#")
	if !ok || frag == "" || !strings.HasPrefix(did, "did:") || strings.Count(did, ":") < 2 || strings.ContainsAny(keyid, " \"\\?/") {
		return "", fmt.Errorf("%w: keyid %q is not a DID URL with a fragment", ErrMalformed, keyid)
	}
	return did, nil
}
