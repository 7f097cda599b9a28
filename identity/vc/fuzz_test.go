package vc

import (
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

func FuzzVerifyCredential(f *testing.F) {
	e := newEnv(f, ed25519sha256.New())
	good := e.issue(f, nil)
	f.Add(good)
	f.Add(e.issue(f, func(r *IssueRequest) {
		r.Status = nil
		r.Claims = map[string]any{"n": []any{1.0, "x", map[string]any{"a": nil}}}
	}))
	f.Add("eyJhbGciOiJFZERTQSJ9.e30.AAAA")
	f.Add(good + "~x~")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := e.v.VerifyCredential(tok, t0.Add(time.Hour))
		if err == nil && (c.Issuer != issuerDID || c.KeyID != issuerKID) {
			t.Fatalf("verified a credential of %s by %s", c.Issuer, c.KeyID)
		}
		_, _ = Inspect(tok)
	})
}

func FuzzVerifyPresentation(f *testing.F) {
	e := newEnv(f, ed25519sha256.New())
	cred := e.issue(f, nil)
	f.Add(e.present(f, []string{cred}, nil))
	f.Add(cred)
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := e.v.VerifyPresentation(tok, "c-8f3a", "https://verifier.example", t0.Add(time.Hour+time.Minute))
		if err == nil && p.Holder != holderDID {
			t.Fatalf("verified a presentation of %s", p.Holder)
		}
	})
}

func FuzzDecodeStatusList(f *testing.F) {
	f.Add(specExample)
	l, _ := NewStatusList(MinListBits)
	_ = l.Set(5, true)
	f.Add(l.Encode())
	f.Add("u")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := DecodeStatusList(s)
		if err != nil {
			return
		}
		if l.Len() < MinListBits || l.Len() > MaxListBits {
			t.Fatalf("list of %d bits", l.Len())
		}
		again, err := DecodeStatusList(l.Encode())
		if err != nil || string(again.Bytes()) != string(l.Bytes()) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	e := newEnv(f, ed25519sha256.New())
	state := bundleState(f, e, false)
	fx := newChainFixture(f, state, t0.Add(time.Hour))
	data, _ := fx.bundle(f, e.issue(f, nil), state).Marshal()
	f.Add(data)
	f.Add([]byte(`{"version":1,"state":[{"key":"AA==","value":null,"proof":""}]}`))
	opts := BundleOptions{ChainID: identityChain, TrustedValidators: fx.vs.Hash(fx.s), Now: t0.Add(2 * time.Hour)}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		if res, err := VerifyBundle(b, testCodec{fx.s}, opts); err == nil && res.Credential.Issuer != issuerDID {
			t.Fatalf("bundle verified a credential of %s", res.Credential.Issuer)
		}
	})
}
