package vc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

func TestIssueVerify(t *testing.T) {
	for _, s := range suitesUnderTest {
		t.Run(s.Name(), func(t *testing.T) {
			e := newEnv(t, s)
			tok := e.issue(t, nil)
			c, err := e.v.VerifyCredential(tok, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			want := &Credential{
				ID: "urn:uuid:6a1f0b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", Types: []string{"StudentCredential"},
				Issuer: issuerDID, KeyID: issuerKID, Alg: map[string]string{"ed25519-sha256": AlgEdDSA, "sm2-sm3": AlgSM2SM3}[s.Name()],
				Subject: holderDID, Claims: map[string]any{"school": "Polity High", "enrolled": true, "year": 2026.0},
				IssuedAt: t0, Expires: t0.Add(365 * 24 * time.Hour),
				Status: &StatusEntry{Purpose: PurposeRevocation, ListID: listID + "-revocation", Index: 94567},
				JWT:    tok,
			}
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("got  %+v\nwant %+v", c, want)
			}
		})
	}
}

// TestCredentialShape pins the JWT layout of VC Data Model 1.1 section 6.3.1.
func TestCredentialShape(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	tok := e.issue(t, nil)
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(hdr) != `{"alg":"EdDSA","kid":"did:polity:edu-ministry#key-1","typ":"JWT"}` {
		t.Fatalf("header %s", hdr)
	}
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(pl, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != issuerDID || claims["sub"] != holderDID || claims["nbf"] != float64(t0.Unix()) {
		t.Fatalf("claims %s", pl)
	}
	vc := claims["vc"].(map[string]any)
	st := vc["credentialStatus"].(map[string]any)
	wantSt := map[string]any{"id": listID + "-revocation#94567", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
		"statusListIndex": "94567", "statusListCredential": listID + "-revocation"}
	if !reflect.DeepEqual(st, wantSt) {
		t.Fatalf("credentialStatus %v", st)
	}
	if !reflect.DeepEqual(vc["@context"], []any{"https://www.w3.org/2018/credentials/v1", PolityContext}) {
		t.Fatalf("@context %v", vc["@context"])
	}
}

// resign replaces a token's header and payload and signs them with e's issuer key.
func resign(t *testing.T, e *env, tok string, edit func(hdr, claims map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	var hdr, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(h, &hdr) != nil || json.Unmarshal(p, &claims) != nil {
		t.Fatal("bad token")
	}
	edit(hdr, claims)
	hb, _ := json.Marshal(hdr)
	pb, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
	sig, err := e.issuer.Sign([]byte(signing))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyRejects(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	good := e.issue(t, nil)
	now := t0.Add(time.Hour)
	other := testKey(t, ed25519sha256.New(), "mallory")
	forged, _ := Issue(e.request(), other)
	parts := strings.Split(good, ".")

	cases := []struct {
		name string
		tok  func() string
		now  time.Time
		prep func()
		want error
	}{
		{name: "empty", tok: func() string { return "" }, want: ErrMalformed},
		{name: "two parts", tok: func() string { return parts[0] + "." + parts[1] }, want: ErrMalformed},
		{name: "four parts", tok: func() string { return good + ".x" }, want: ErrMalformed},
		{name: "padded base64", tok: func() string { return parts[0] + "." + parts[1] + "." + parts[2] + "==" }, want: ErrMalformed},
		{name: "oversized", tok: func() string { return strings.Repeat("a", MaxCredentialSize+1) }, want: ErrMalformed},
		{name: "JSON-LD credential", tok: func() string {
			return `{"@context":["https://www.w3.org/2018/credentials/v1"],"type":"VerifiableCredential"}`
		}, want: ErrMalformed},
		{name: "SD-JWT", tok: func() string { return good + "~WyJ4Il0~" }, want: ErrMalformed},
		{name: "forged signature", tok: func() string { return forged }, want: ErrBadSignature},
		{name: "tampered payload", tok: func() string {
			p, _ := base64.RawURLEncoding.DecodeString(parts[1])
			p2 := strings.Replace(string(p), "Polity High", "Polity Hi9h", 1)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(p2)) + "." + parts[2]
		}, want: ErrBadSignature},
		{name: "alg none", tok: func() string { return resign(t, e, good, func(h, _ map[string]any) { h["alg"] = "none" }) }, want: ErrMalformed},
		{name: "alg SM2 on Ed25519 key", tok: func() string { return resign(t, e, good, func(h, _ map[string]any) { h["alg"] = AlgSM2SM3 }) }, want: ErrBadSignature},
		{name: "embedded jwk", tok: func() string {
			return resign(t, e, good, func(h, _ map[string]any) { h["jwk"] = map[string]any{"kty": "OKP"} })
		}, want: ErrMalformed},
		{name: "kid of another DID", tok: func() string { return resign(t, e, good, func(h, _ map[string]any) { h["kid"] = holderKID }) }, want: ErrUnknownKey},
		{name: "unknown kid", tok: func() string {
			return resign(t, e, good, func(h, _ map[string]any) { h["kid"] = issuerDID + "#key-9" })
		}, want: ErrUnknownKey},
		{name: "unknown claim", tok: func() string { return resign(t, e, good, func(_, c map[string]any) { c["aud"] = "x" }) }, want: ErrMalformed},
		{name: "no nbf", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) { delete(c, "nbf"); delete(c, "iat") })
		}, want: ErrMalformed},
		{name: "vp as vc", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) { c["vp"] = c["vc"]; delete(c, "vc") })
		}, want: ErrMalformed},
		{name: "foreign context", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) {
				c["vc"].(map[string]any)["@context"] = []any{"https://www.w3.org/2018/credentials/v1", "https://evil.example/ctx"}
			})
		}, want: ErrMalformed},
		{name: "credentialSchema", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) {
				c["vc"].(map[string]any)["credentialSchema"] = map[string]any{"id": "https://evil.example/s", "type": "JsonSchemaValidator2018"}
			})
		}, want: ErrMalformed},
		{name: "status index with leading zero", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) {
				c["vc"].(map[string]any)["credentialStatus"].(map[string]any)["statusListIndex"] = "094567"
			})
		}, want: ErrMalformed},
		{name: "status purpose message", tok: func() string {
			return resign(t, e, good, func(_, c map[string]any) {
				c["vc"].(map[string]any)["credentialStatus"].(map[string]any)["statusPurpose"] = "message"
			})
		}, want: ErrMalformed},
		{name: "subject not sub", tok: func() string { return resign(t, e, good, func(_, c map[string]any) { c["sub"] = "did:polity:other" }) }, want: ErrMalformed},
		{name: "expired", tok: func() string { return good }, now: t0.Add(366 * 24 * time.Hour), want: ErrExpired},
		{name: "not yet valid", tok: func() string { return good }, now: t0.Add(-time.Hour), want: ErrNotYetValid},
		{name: "untrusted type", tok: func() string {
			return e.issue(t, func(r *IssueRequest) { r.Types = []string{"DiplomaCredential"} })
		}, want: ErrUntrustedIssuer},
		{name: "revoked", tok: func() string { return good }, prep: func() {
			_ = e.status.lists[listID+"-revocation"].Set(94567, true)
		}, want: ErrRevoked},
		{name: "suspended", tok: func() string {
			return e.issue(t, func(r *IssueRequest) {
				r.Status = &StatusEntry{Purpose: PurposeSuspension, ListID: listID + "-suspension", Index: 7}
			})
		}, prep: func() { _ = e.status.lists[listID+"-suspension"].Set(7, true) }, want: ErrSuspended},
		{name: "status list of the wrong purpose", tok: func() string {
			return e.issue(t, func(r *IssueRequest) {
				r.Status = &StatusEntry{Purpose: PurposeSuspension, ListID: listID + "-revocation", Index: 7}
			})
		}, want: ErrStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.tok()
			if c.prep != nil {
				c.prep()
			}
			n := now
			if !c.now.IsZero() {
				n = c.now
			}
			_, err := e.v.VerifyCredential(tok, n)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestKeyRotation: a credential signed before a rotation still verifies
// after it; one signed with the old key but dated after it does not.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	before := e.issue(t, nil)
	newKey := testKey(t, ed25519sha256.New(), "issuer-2")
	rot := t0.Add(2 * time.Hour)
	e.keys.set(issuerKID, newKey.Public(), rot)
	now := rot.Add(time.Hour)
	if _, err := e.v.VerifyCredential(before, now); err != nil {
		t.Fatalf("credential from before the rotation: %v", err)
	}
	late := e.issue(t, func(r *IssueRequest) { r.IssuedAt = rot.Add(time.Minute) })
	if _, err := e.v.VerifyCredential(late, now); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old key after rotation: got %v, want %v", err, ErrBadSignature)
	}
	r := e.request()
	r.IssuedAt = rot.Add(time.Minute)
	fresh, err := Issue(r, newKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.VerifyCredential(fresh, now); err != nil {
		t.Fatalf("new key: %v", err)
	}
}

func TestIssueRejects(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	cases := map[string]func(*IssueRequest){
		"no types":          func(r *IssueRequest) { r.Types = nil },
		"base type":         func(r *IssueRequest) { r.Types = []string{"VerifiableCredential"} },
		"bad type":          func(r *IssueRequest) { r.Types = []string{"a b"} },
		"bad issuer":        func(r *IssueRequest) { r.Issuer = "polity:x" },
		"key of other DID":  func(r *IssueRequest) { r.KeyID = holderKID },
		"bad subject":       func(r *IssueRequest) { r.Subject = "did:x" },
		"id claim":          func(r *IssueRequest) { r.Claims = map[string]any{"id": "x"} },
		"no issuance":       func(r *IssueRequest) { r.IssuedAt = time.Time{} },
		"expiry too early":  func(r *IssueRequest) { r.Expires = r.IssuedAt },
		"status purpose":    func(r *IssueRequest) { r.Status.Purpose = "message" },
		"status index":      func(r *IssueRequest) { r.Status.Index = MaxListBits },
		"huge claims":       func(r *IssueRequest) { r.Claims = map[string]any{"blob": strings.Repeat("x", MaxCredentialSize)} },
		"unmarshal-able":    func(r *IssueRequest) { r.Claims = map[string]any{"f": func() {}} },
		"status list empty": func(r *IssueRequest) { r.Status.ListID = "" },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.request()
			mod(r)
			if _, err := Issue(r, e.issuer); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want %v", err, ErrMalformed)
			}
		})
	}
}
