package httpsig

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

const benchBody = `{"type":"StudentCredential","subject":"did:polity:citizen-42","claims":{"school":"Polity High"}}`

func BenchmarkSign(b *testing.B) {
	for _, s := range []crypto.Suite{ed25519sha256.New(), sm2sm3.New()} {
		b.Run(s.Name(), func(b *testing.B) {
			key := testKey(b, s, "caller")
			for b.Loop() {
				r := httptest.NewRequest("POST", "http://api.polity.example/v1/credentials", strings.NewReader(benchBody))
				r.Header.Set("Content-Type", "application/json")
				if err := SignWith(r, key, callerKID, SignOptions{Now: t0}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range []crypto.Suite{ed25519sha256.New(), sm2sm3.New()} {
		b.Run(s.Name(), func(b *testing.B) {
			key := testKey(b, s, "caller")
			keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
			cfg := DefaultConfig()
			cfg.Keys, cfg.Now, cfg.MaxNonces = keys, func() time.Time { return t0 }, b.N+16
			v, err := NewVerifier(cfg)
			if err != nil {
				b.Fatal(err)
			}
			// Pre-sign distinct nonces so only verification is timed.
			signed := make([]*requestAndBody, 0, b.N)
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest("POST", "http://api.polity.example/v1/credentials", strings.NewReader(benchBody))
				r.Header.Set("Content-Type", "application/json")
				if err := SignWith(r, key, callerKID, SignOptions{Now: t0, Nonce: "bench-nonce-" + strconv.Itoa(i) + "-padding"}); err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(r.Body)
				signed = append(signed, &requestAndBody{r, body})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(signed[i].r, signed[i].body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type requestAndBody struct {
	r    *http.Request
	body []byte
}
