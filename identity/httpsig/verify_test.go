package httpsig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

func signedRequest(t testing.TB, key crypto.PrivateKey, body string, o SignOptions) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest("POST", "http://api.polity.example/v1/credentials?dept=edu", rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if o.Now.IsZero() {
		o.Now = t0
	}
	if o.Nonce == "" {
		o.Nonce = fmt.Sprintf("nonce-%d-abcdefghijkl", time.Now().UnixNano())
	}
	if err := SignWith(r, key, callerKID, o); err != nil {
		t.Fatal(err)
	}
	return r
}

func verify(v *Verifier, r *http.Request) (*Result, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	return v.Verify(r, body)
}

func TestSignVerify(t *testing.T) {
	for _, s := range []crypto.Suite{ed25519sha256.New(), sm2sm3.New()} {
		t.Run(s.Name(), func(t *testing.T) {
			key := testKey(t, s, "caller")
			keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
			clk := &clock{t: t0.Add(10 * time.Second)}
			v := newVerifier(t, keys, clk)
			for _, body := range []string{`{"type":"StudentCredential"}`, ""} {
				res, err := verify(v, signedRequest(t, key, body, SignOptions{}))
				if err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if res.DID != callerDID || res.KeyID != callerKID || !res.Created.Equal(t0) {
					t.Fatalf("result %+v", res)
				}
			}
		})
	}
}

// TestVerifyRejects is the table of every rejection.
func TestVerifyRejects(t *testing.T) {
	s := ed25519sha256.New()
	key := testKey(t, s, "caller")
	other := testKey(t, s, "mallory")
	sm2key := testKey(t, sm2sm3.New(), "caller")
	const body = `{"a":1}`
	good := func() *http.Request { return signedRequest(t, key, body, SignOptions{}) }
	setInput := func(r *http.Request, f func(string) string) *http.Request {
		r.Header.Set("Signature-Input", f(r.Header.Get("Signature-Input")))
		return r
	}
	// resign re-signs r after edit, with a Signature-Input built by hand.
	resign := func(input string, edit func(*http.Request)) *http.Request {
		r := good()
		if edit != nil {
			edit(r)
		}
		si, err := parseSignature(input, "sig=:AAAA:", "sig")
		if err != nil {
			t.Fatal(err)
		}
		m := clientMessage(r)
		base, err := signatureBase(&m, si.covered, si.params)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := key.Sign([]byte(base))
		r.Header.Set("Signature-Input", input)
		r.Header.Set("Signature", "sig="+serializeBare(bareItem{kind: kBytes, b: sig}))
		return r
	}
	const params = `;created=1772366400;expires=1772366460;nonce="0123456789abcdef";keyid="did:polity:agency-7#key-1";alg="ed25519"`
	cases := []struct {
		name string
		req  func() *http.Request
		now  time.Time
		want error
	}{
		{"no signature", func() *http.Request {
			r := good()
			r.Header.Del("Signature")
			r.Header.Del("Signature-Input")
			return r
		}, t0, ErrMissing},
		{"other label", func() *http.Request {
			r := good()
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig=", "sig2=", 1))
			return r
		}, t0, ErrMissing},
		{"garbled input", func() *http.Request { return setInput(good(), func(s string) string { return s + ",," }) }, t0, ErrMalformed},
		{"decimal param", func() *http.Request { return setInput(good(), func(s string) string { return s + ";x=1.5" }) }, t0, ErrMalformed},
		{"duplicate param", func() *http.Request {
			return setInput(good(), func(s string) string { return s + ";created=1" })
		}, t0, ErrMalformed},
		{"unknown param", func() *http.Request { return setInput(good(), func(s string) string { return s + ";foo=1" }) }, t0, ErrUnsupported},
		{"no nonce", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1772366400;expires=1772366460;keyid="did:polity:agency-7#key-1";alg="ed25519"`, nil)
		}, t0, ErrMalformed},
		{"short nonce", func() *http.Request { return signedRequest(t, key, body, SignOptions{Nonce: "abc"}) }, t0, ErrMalformed},
		{"no expires", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1772366400;nonce="0123456789abcdef";keyid="did:polity:agency-7#key-1";alg="ed25519"`, nil)
		}, t0, ErrMalformed},
		{"no alg", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1772366400;expires=1772366460;nonce="0123456789abcdef";keyid="did:polity:agency-7#key-1"`, nil)
		}, t0, ErrMalformed},
		{"keyid not a DID URL", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-type" "content-digest");created=1772366400;expires=1772366460;nonce="0123456789abcdef";keyid="test-key-ed25519";alg="ed25519"`, nil)
		}, t0, ErrMalformed},
		{"unknown alg", func() *http.Request {
			return setInput(good(), func(s string) string { return strings.Replace(s, `alg="ed25519"`, `alg="hmac-sha256"`, 1) })
		}, t0, ErrUnsupported},
		{"alg of another key type", func() *http.Request {
			return setInput(good(), func(s string) string { return strings.Replace(s, `alg="ed25519"`, `alg="sm2-sm3"`, 1) })
		}, t0, ErrBadSignature},
		{"expired", good, t0.Add(2 * time.Minute), ErrExpired},
		{"created in the future", good, t0.Add(-time.Minute), ErrNotYetValid},
		{"validity too long", func() *http.Request { return signedRequest(t, key, body, SignOptions{Validity: time.Hour}) }, t0, ErrValidity},
		{"expires before created", func() *http.Request { return signedRequest(t, key, body, SignOptions{Validity: -time.Second}) }, t0, ErrValidity},
		{"method not covered", func() *http.Request {
			return resign(`sig=("@authority" "@path" "@query" "content-type" "content-digest")`+params, nil)
		}, t0, ErrMissingComponent},
		{"query not covered", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "content-type" "content-digest")`+params, nil)
		}, t0, ErrMissingComponent},
		{"digest not covered", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-type")`+params, nil)
		}, t0, ErrMissingComponent},
		{"content-type not covered", func() *http.Request {
			return resign(`sig=("@method" "@authority" "@path" "@query" "content-digest")`+params, nil)
		}, t0, ErrMissingComponent},
		{"component twice", func() *http.Request {
			return setInput(good(), func(s string) string { return strings.Replace(s, `("@method"`, `("@method" "@method"`, 1) })
		}, t0, ErrMalformed},
		{"component parameter", func() *http.Request {
			r := good()
			return setInput(r, func(s string) string { return strings.Replace(s, `"@method"`, `"@method";req`, 1) })
		}, t0, ErrUnsupported},
		{"covered field absent", func() *http.Request {
			return setInput(good(), func(s string) string { return strings.Replace(s, `("@method"`, `("x-absent" "@method"`, 1) })
		}, t0, ErrMissingComponent},
		{"body changed", func() *http.Request {
			r := good()
			r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			return r
		}, t0, ErrDigest},
		{"digest replaced to match a new body", func() *http.Request {
			r := good()
			r.Body = io.NopCloser(strings.NewReader(`{"a":2}`))
			r.Header.Set("Content-Digest", ContentDigest([]byte(`{"a":2}`)))
			return r
		}, t0, ErrBadSignature},
		{"body added to a bodiless request", func() *http.Request {
			r := signedRequest(t, key, "", SignOptions{})
			r.Body = io.NopCloser(strings.NewReader(`{}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Content-Digest", ContentDigest([]byte(`{}`)))
			return r
		}, t0, ErrMissingComponent},
		{"path changed", func() *http.Request {
			r := good()
			r.URL.Path = "/v1/admin"
			return r
		}, t0, ErrBadSignature},
		{"query changed", func() *http.Request {
			r := good()
			r.URL.RawQuery = "dept=health"
			return r
		}, t0, ErrBadSignature},
		{"host changed", func() *http.Request {
			r := good()
			r.Host = "other.example"
			return r
		}, t0, ErrBadSignature},
		{"method changed", func() *http.Request {
			r := good()
			r.Method = "PUT"
			return r
		}, t0, ErrBadSignature},
		{"signed by another key", func() *http.Request { return signedRequest(t, other, body, SignOptions{}) }, t0, ErrBadSignature},
		{"sm2 signature for an ed25519 key", func() *http.Request { return signedRequest(t, sm2key, body, SignOptions{}) }, t0, ErrBadSignature},
		{"unknown key", func() *http.Request {
			return setInput(good(), func(s string) string { return strings.Replace(s, "#key-1", "#key-2", 1) })
		}, t0, ErrUnknownKey},
		{"oversized field", func() *http.Request {
			return setInput(good(), func(s string) string { return s + strings.Repeat(" ", maxFieldLen) })
		}, t0, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
			v := newVerifier(t, keys, &clock{t: c.now})
			_, err := verify(v, c.req())
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	key := testKey(t, ed25519sha256.New(), "caller")
	keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
	clk := &clock{t: t0}
	v := newVerifier(t, keys, clk)
	r := signedRequest(t, key, `{}`, SignOptions{Nonce: "fixed-nonce-0123456789"})
	h := r.Header.Clone()
	if _, err := verify(v, r); err != nil {
		t.Fatal(err)
	}
	again := signedRequest(t, key, `{}`, SignOptions{Nonce: "fixed-nonce-0123456789"})
	again.Header = h
	if _, err := verify(v, again); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: got %v", err)
	}
	// Once the signature has expired the nonce is forgotten, and the
	// signature is refused as expired instead.
	clk.set(t0.Add(5 * time.Minute))
	if _, err := verify(v, signedRequest(t, key, `{}`, SignOptions{Nonce: "fixed-nonce-0123456789"})); !errors.Is(err, ErrExpired) {
		t.Fatalf("late replay: got %v", err)
	}
	// The next accepted request drops expired nonces: one remains.
	if _, err := verify(v, signedRequest(t, key, `{}`, SignOptions{Now: t0.Add(5 * time.Minute)})); err != nil {
		t.Fatal(err)
	}
	if n := v.nonces.len(); n != 1 {
		t.Fatalf("%d nonces remembered, want 1", n)
	}
}

// TestReplayConcurrent sends the same signed request from many goroutines:
// exactly one is accepted.
func TestReplayConcurrent(t *testing.T) {
	key := testKey(t, ed25519sha256.New(), "caller")
	keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
	v := newVerifier(t, keys, &clock{t: t0})
	r := signedRequest(t, key, `{"x":1}`, SignOptions{})
	var ok, replay atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := r.Clone(r.Context())
			switch _, err := v.Verify(rr, []byte(`{"x":1}`)); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplay):
				replay.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replay.Load() != 31 {
		t.Fatalf("accepted %d, replays %d", ok.Load(), replay.Load())
	}
}

func TestNonceCacheBounded(t *testing.T) {
	c := newNonceCache(2)
	if c.add("a", t0.Add(time.Minute), t0) != nil || c.add("b", t0.Add(2*time.Minute), t0) != nil {
		t.Fatal("add")
	}
	if err := c.add("c", t0.Add(time.Minute), t0); !errors.Is(err, ErrBusy) {
		t.Fatalf("full cache: %v", err)
	}
	if err := c.add("c", t0.Add(3*time.Minute), t0.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry of a: %v", err)
	}
	if err := c.add("b", t0.Add(3*time.Minute), t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("b: %v", err)
	}
}

// TestRotation: after a key rotation, a request signed with the old key gets
// 401 through the middleware; the new key works.
func TestRotation(t *testing.T) {
	s := ed25519sha256.New()
	oldKey, newKey := testKey(t, s, "caller"), testKey(t, s, "caller-2")
	keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: oldKey.Public()}}
	v := newVerifier(t, keys, &clock{t: t0})
	var seen string
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := FromContext(r.Context())
		b, _ := io.ReadAll(r.Body)
		seen = res.DID + " " + string(b)
		w.WriteHeader(http.StatusCreated)
	}))
	do := func(k crypto.PrivateKey) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, signedRequest(t, k, `{"n":1}`, SignOptions{}))
		return w
	}
	if w := do(oldKey); w.Code != http.StatusCreated || seen != callerDID+` {"n":1}` {
		t.Fatalf("before rotation: %d %q", w.Code, seen)
	}
	keys.set(callerKID, newKey.Public())
	w := do(oldKey)
	if w.Code != http.StatusUnauthorized || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("old key after rotation: %d", w.Code)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != "signature_invalid" || p.Status != 401 {
		t.Fatalf("problem %s", w.Body)
	}
	if w := do(newKey); w.Code != http.StatusCreated {
		t.Fatalf("new key: %d %s", w.Code, w.Body)
	}
}

func TestMiddlewareStatuses(t *testing.T) {
	key := testKey(t, ed25519sha256.New(), "caller")
	keys := &memKeys{keys: map[string]crypto.PublicKey{callerKID: key.Public()}}
	cfg := DefaultConfig()
	cfg.Keys, cfg.Now, cfg.MaxBody, cfg.MaxNonces = keys, (&clock{t: t0}).now, 16, 1
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	for _, c := range []struct {
		req  *http.Request
		want int
	}{
		{httptest.NewRequest("POST", "/x", nil), 401},
		{signedRequest(t, key, strings.Repeat("x", 17), SignOptions{}), 413},
		{signedRequest(t, key, `{}`, SignOptions{}), 204},
		{signedRequest(t, key, `{}`, SignOptions{}), 503}, // cache of one is full
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, c.req)
		if w.Code != c.want {
			t.Errorf("got %d, want %d: %s", w.Code, c.want, w.Body)
		}
	}
	bad := DefaultConfig()
	if _, err := NewVerifier(bad); err == nil {
		t.Error("config without keys accepted")
	}
}
