package services

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// BenchmarkAuthenticate measures what authentication and authorisation add
// to one request, on an in-process node's identity chain: route matching,
// signature verification (Ed25519), key resolution, the replay cache and
// the role lookups. Requests are signed before the timer starts.
func BenchmarkAuthenticate(b *testing.B) {
	tn := newTestNet(b)
	k := tn.key()
	tn.grant(tn.keyDID(tn.operator), registry.RoleRegistrar, registry.Scope{Chain: "identity", Module: registry.DIDModule, Method: registry.Wildcard})
	doc := tn.registerOrg(k)
	tn.grant(doc.ID, RoleWriter, registry.Scope{Chain: "health", Module: "records", Method: "put"})
	writer := tn.key()
	tn.grant(tn.keyDID(writer), RoleWriter, registry.Scope{Chain: "health", Module: "records", Method: "put"})

	spec, err := openapi.GetSpec()
	if err != nil {
		b.Fatal(err)
	}
	spec.Servers = nil
	body := submitBody(tn.tx(tn.key(), "health", "records", "put", map[string]string{"id": "bench", "data": "x"}))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	cases := []struct {
		name  string
		key   crypto.PrivateKey
		keyid string
	}{
		{"key-DID-writer", writer, ""},
		{"key-DID-genesis-admin", tn.operator, ""},
		{"registered-DID-writer", k, doc.ID + "#key-1"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := DefaultAuthConfig()
			cfg.Signature.MaxNonces = b.N + 16
			a, err := newAuthenticator(tn.n, spec, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			h := a.authenticate(a.authorise(ok))
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				r := httptest.NewRequest("POST", "http://polity.test/v1/chains/health/transactions", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				if err := SignRequest(r, tn.suite, c.key, c.keyid); err != nil {
					b.Fatal(err)
				}
				reqs[i] = r
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, reqs[i])
				if w.Code != http.StatusNoContent {
					b.Fatalf("%d: %s", w.Code, w.Body)
				}
			}
		})
	}
	// A read passes through route matching only.
	b.Run("read-unsigned", func(b *testing.B) {
		a, err := newAuthenticator(tn.n, spec, DefaultAuthConfig(), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		h := a.authenticate(a.authorise(ok))
		r := httptest.NewRequest("GET", fmt.Sprintf("http://polity.test/v1/chains/health/blocks/%d", 1), nil)
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusNoContent {
				b.Fatal(w.Code)
			}
		}
	})
	tn.t = b
}
