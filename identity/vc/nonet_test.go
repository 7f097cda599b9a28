package vc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// netAttempts counts every HTTP request and DNS lookup tried in this
// package's tests: none may happen.
var netAttempts atomic.Int64

type noTransport struct{}

func (noTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	netAttempts.Add(1)
	return nil, errors.New("network disabled in tests: " + r.URL.String())
}

// TestMain makes networking impossible: the default HTTP transport (which
// aries' schema loader and json-gold's default loader use) fails, and so
// does the resolver's dialer.
func TestMain(m *testing.M) {
	http.DefaultTransport = noTransport{}
	http.DefaultClient = &http.Client{Transport: noTransport{}}
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		netAttempts.Add(1)
		return nil, errors.New("network disabled in tests")
	}}
	code := m.Run()
	if n := netAttempts.Load(); n != 0 && code == 0 {
		println("vc tests attempted", n, "network accesses")
		code = 1
	}
	os.Exit(code)
}

// TestOffline verifies credentials and presentations, with the JSON-LD check
// on, while the network is unreachable, and sees no access attempted.
func TestOffline(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	e.v.CheckJSONLD = true
	cred := e.issue(t, nil)
	if _, err := e.v.VerifyCredential(cred, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	vp := e.present(t, []string{cred}, nil)
	if _, err := e.v.VerifyPresentation(vp, "c-8f3a", "https://verifier.example", t0.Add(time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A credential naming a context that is not embedded is refused, not
	// fetched.
	l, err := NewContextLoader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.LoadDocument("https://www.w3.org/ns/credentials/v2"); err == nil {
		t.Fatal("loader served a context that is not embedded")
	}
	if n := netAttempts.Load(); n != 0 {
		t.Fatalf("%d network accesses attempted", n)
	}
}

// TestJSONLDStrict: with CheckJSONLD a claim whose name is not a term of
// the embedded contexts is still defined by PolityContext's vocabulary, but
// a malformed JSON-LD value is refused.
func TestJSONLDStrict(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	e.v.CheckJSONLD = true
	bad := resign(t, e, e.issue(t, nil), func(_, c map[string]any) {
		c["vc"].(map[string]any)["credentialSubject"].(map[string]any)["@type"] = 7
	})
	_, err := e.v.VerifyCredential(bad, t0.Add(time.Hour))
	t.Log(err)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want %v", err, ErrMalformed)
	}
}
