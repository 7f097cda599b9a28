package vc

import (
	"errors"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

func (e *env) present(t testing.TB, creds []string, mod func(*PresentRequest)) string {
	t.Helper()
	r := &PresentRequest{Holder: holderDID, KeyID: holderKID, Credentials: creds,
		Challenge: "c-8f3a", Domain: "https://verifier.example", IssuedAt: t0.Add(time.Hour), Expires: t0.Add(time.Hour + 5*time.Minute)}
	if mod != nil {
		mod(r)
	}
	tok, err := Present(r, e.holder)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestPresentVerify(t *testing.T) {
	for _, s := range suitesUnderTest {
		t.Run(s.Name(), func(t *testing.T) {
			e := newEnv(t, s)
			c1 := e.issue(t, nil)
			c2 := e.issue(t, func(r *IssueRequest) { r.ID = ""; r.Status = nil })
			vp := e.present(t, []string{c1, c2}, nil)
			p, err := e.v.VerifyPresentation(vp, "c-8f3a", "https://verifier.example", t0.Add(time.Hour+time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if p.Holder != holderDID || len(p.Credentials) != 2 || p.Credentials[0].JWT != c1 || p.Credentials[1].Status != nil {
				t.Fatalf("presentation %+v", p)
			}
		})
	}
}

func TestPresentationRejects(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	cred := e.issue(t, nil)
	now := t0.Add(time.Hour + time.Minute)
	other := e.issue(t, func(r *IssueRequest) { r.Subject = "did:polity:someone-else" })
	cases := []struct {
		name              string
		vp                func() string
		challenge, domain string
		now               time.Time
		want              error
	}{
		{name: "wrong challenge", vp: func() string { return e.present(t, []string{cred}, nil) }, challenge: "other", want: ErrChallenge},
		{name: "wrong domain", vp: func() string { return e.present(t, []string{cred}, nil) }, domain: "https://evil.example", want: ErrChallenge},
		{name: "expired", vp: func() string { return e.present(t, []string{cred}, nil) }, now: t0.Add(2 * time.Hour), want: ErrExpired},
		{name: "not yet valid", vp: func() string { return e.present(t, []string{cred}, nil) }, now: t0, want: ErrNotYetValid},
		{name: "credential about someone else", vp: func() string { return e.present(t, []string{other}, nil) }, want: ErrHolder},
		{name: "signed by the issuer", vp: func() string {
			tok, _ := Present(&PresentRequest{Holder: holderDID, KeyID: holderKID, Credentials: []string{cred}, Challenge: "c-8f3a",
				Domain: "https://verifier.example", IssuedAt: t0.Add(time.Hour), Expires: t0.Add(time.Hour + time.Minute)}, e.issuer)
			return tok
		}, want: ErrBadSignature},
		{name: "credential instead of presentation", vp: func() string { return cred }, want: ErrMalformed},
		{name: "garbage", vp: func() string { return "a.b.c" }, want: ErrMalformed},
		{name: "inner credential revoked", vp: func() string {
			c := e.issue(t, func(r *IssueRequest) {
				r.Status = &StatusEntry{Purpose: PurposeRevocation, ListID: listID + "-revocation", Index: 3}
			})
			_ = e.status.lists[listID+"-revocation"].Set(3, true)
			return e.present(t, []string{c}, nil)
		}, want: ErrRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, dom, n := "c-8f3a", "https://verifier.example", now
			if c.challenge != "" {
				ch = c.challenge
			}
			if c.domain != "" {
				dom = c.domain
			}
			if !c.now.IsZero() {
				n = c.now
			}
			if _, err := e.v.VerifyPresentation(c.vp(), ch, dom, n); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Requests Present refuses.
	for name, mod := range map[string]func(*PresentRequest){
		"no challenge":  func(r *PresentRequest) { r.Challenge = "" },
		"too long":      func(r *PresentRequest) { r.Expires = r.IssuedAt.Add(2 * MaxPresentationTTL) },
		"no credential": func(r *PresentRequest) { r.Credentials = nil },
		"bad credential": func(r *PresentRequest) {
			r.Credentials = []string{"not a jwt"}
		},
		"foreign key": func(r *PresentRequest) { r.KeyID = issuerKID },
	} {
		r := &PresentRequest{Holder: holderDID, KeyID: holderKID, Credentials: []string{cred}, Challenge: "c",
			Domain: "d", IssuedAt: t0, Expires: t0.Add(time.Minute)}
		mod(r)
		if _, err := Present(r, e.holder); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want %v", name, err, ErrMalformed)
		}
	}
}

// TestHolderKeyRotation: a presentation is judged with the holder's key at
// the verifier's now, so the old key is refused after a rotation.
func TestHolderKeyRotation(t *testing.T) {
	e := newEnv(t, sm2sm3.New())
	cred := e.issue(t, nil)
	vp := e.present(t, []string{cred}, nil)
	e.keys.set(holderKID, testKey(t, sm2sm3.New(), "holder-2").Public(), t0.Add(time.Hour+30*time.Second))
	if _, err := e.v.VerifyPresentation(vp, "c-8f3a", "https://verifier.example", t0.Add(time.Hour+time.Minute)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want %v", err, ErrBadSignature)
	}
}
