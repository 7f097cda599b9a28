package vc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/polityledger/polity/chain/crypto"
)

// jwsHeader is the only protected header accepted: no "jwk", "jku", "x5u" or
// "crit" that could steer key selection.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// jws is a parsed compact JWS (RFC 7515 section 7.1).
type jws struct {
	header  jwsHeader
	payload []byte
	signing string // BASE64URL(header) "." BASE64URL(payload)
	sig     []byte
}

var b64 = base64.RawURLEncoding.Strict()

// signJWS serialises payload as a compact JWS signed with key under kid.
func signJWS(key crypto.PrivateKey, kid, typ string, payload []byte) (string, error) {
	alg, err := algForKey(key.Public())
	if err != nil {
		return "", err
	}
	h, err := json.Marshal(jwsHeader{Alg: alg, Kid: kid, Typ: typ})
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sig, err := key.Sign([]byte(signing))
	if err != nil {
		return "", fmt.Errorf("vc: signing: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// parseJWS strictly decodes a compact JWS of at most max bytes: three
// unpadded base64url parts, a header with exactly the fields of jwsHeader,
// and a payload that is a JSON object.
func parseJWS(s string, max int) (*jws, error) {
	if len(s) > max {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(s), max)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: compact JWS needs 3 parts, got %d", ErrMalformed, len(parts))
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sb, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: JWS part is not unpadded base64url", ErrMalformed)
	}
	if len(sb) == 0 || len(sb) > maxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(sb))
	}
	j := &jws{payload: pb, signing: parts[0] + "." + parts[1], sig: sb}
	if err := strictUnmarshal(hb, &j.header); err != nil {
		return nil, fmt.Errorf("%w: JWS header: %w", ErrMalformed, err)
	}
	if j.header.Alg != AlgEdDSA && j.header.Alg != AlgSM2SM3 {
		return nil, fmt.Errorf("%w: unsupported alg %q", ErrMalformed, j.header.Alg)
	}
	if err := checkDIDURL(j.header.Kid); err != nil {
		return nil, fmt.Errorf("%w: kid: %w", ErrMalformed, err)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(pb, " \t\r\n"), []byte("{")) {
		return nil, fmt.Errorf("%w: JWT payload is not a JSON object", ErrMalformed)
	}
	return j, nil
}

// verifyWith checks the signature with key, whose type must match alg.
func (j *jws) verifyWith(key crypto.PublicKey) error {
	alg, err := algForKey(key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if alg != j.header.Alg {
		return fmt.Errorf("%w: alg %s does not fit a key for %s", ErrBadSignature, j.header.Alg, alg)
	}
	if !key.Verify([]byte(j.signing), j.sig) {
		return fmt.Errorf("%w: signature by %s does not verify", ErrBadSignature, j.header.Kid)
	}
	return nil
}

// strictUnmarshal decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}
