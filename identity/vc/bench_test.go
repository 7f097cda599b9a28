package vc

import (
	"testing"
	"time"
)

func BenchmarkIssue(b *testing.B) {
	for _, s := range suitesUnderTest {
		b.Run(s.Name(), func(b *testing.B) {
			e := newEnv(b, s)
			r := e.request()
			for b.Loop() {
				if _, err := Issue(r, e.issuer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range suitesUnderTest {
		for _, jsonld := range []bool{false, true} {
			name := s.Name()
			if jsonld {
				name += "/jsonld"
			}
			b.Run(name, func(b *testing.B) {
				e := newEnv(b, s)
				e.v.CheckJSONLD = jsonld
				tok := e.issue(b, nil)
				now := t0.Add(time.Hour)
				for b.Loop() {
					if _, err := e.v.VerifyCredential(tok, now); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkVerifyBundle(b *testing.B) {
	e := newEnv(b, suitesUnderTest[0])
	state := bundleState(b, e, false)
	f := newChainFixture(b, state, t0.Add(time.Hour))
	bd := f.bundle(b, e.issue(b, nil), state)
	opts := BundleOptions{ChainID: identityChain, TrustedValidators: f.vs.Hash(f.s), Now: t0.Add(2 * time.Hour)}
	for b.Loop() {
		if _, err := VerifyBundle(bd, testCodec{f.s}, opts); err != nil {
			b.Fatal(err)
		}
	}
}
