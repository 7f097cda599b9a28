package httpsig

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// RFC 9421 Appendix B.1.4, test-key-ed25519 as a JWK: private d, public x.
const (
	rfcEd25519D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
	rfcEd25519X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
)

// rfcRequest is the test request of RFC 9421 Appendix B.2.
func rfcRequest() *http.Request {
	r := httptest.NewRequest("POST", "/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	r.Host = "example.com"
	r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
	r.Header.Set("Content-Length", "18")
	return r
}

// TestRFC9421B26 reproduces Appendix B.2.6, "Signing a Request Using
// ed25519": the signature base, the deterministic signature, and its
// verification.
func TestRFC9421B26(t *testing.T) {
	const (
		input     = `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
		signature = `sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`
		wantBase  = `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	)
	s := ed25519sha256.New()
	d, _ := base64.RawURLEncoding.DecodeString(rfcEd25519D)
	x, _ := base64.RawURLEncoding.DecodeString(rfcEd25519X)
	priv, err := s.PrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(priv.Public().Bytes()) != string(x) {
		t.Fatal("RFC private key does not give the RFC public key")
	}
	si, err := parseSignature(input, signature, "sig-b26")
	if err != nil {
		t.Fatal(err)
	}
	m := serverMessage(rfcRequest(), "https")
	base, err := signatureBase(&m, si.covered, si.params)
	if err != nil {
		t.Fatal(err)
	}
	if base != wantBase {
		t.Fatalf("signature base:\n%s\nwant:\n%s", base, wantBase)
	}
	sig, _ := priv.Sign([]byte(base))
	if string(sig) != string(si.sig) {
		t.Fatalf("signature %x differs from the RFC's", sig)
	}
	if err := verifyBase(&m, si, priv.Public()); err != nil {
		t.Fatal(err)
	}
	si.sig[0] ^= 1
	if err := verifyBase(&m, si, priv.Public()); err == nil {
		t.Fatal("tampered RFC signature verified")
	}
	// Re-serialising the parsed Signature-Input gives it back.
	if got := "sig-b26=" + serializeInnerList(si.covered, si.params); got != input {
		t.Fatalf("re-serialised %s", got)
	}
}

// TestContentDigest checks RFC 9530 section 2's example and the empty body.
func TestContentDigest(t *testing.T) {
	if got := ContentDigest([]byte(`{"hello": "world"}`)); got != "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:" {
		t.Fatalf("digest %s", got)
	}
	if got := ContentDigest(nil); got != "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:" {
		t.Fatalf("empty digest %s", got)
	}
	body := []byte("x")
	for field, ok := range map[string]bool{
		ContentDigest(body):                      true,
		"sha-512=:AAAA:, " + ContentDigest(body): true,
		ContentDigest([]byte("y")):               false,
		"sha-512=:AAAA:":                         false,
		"sha-256=?1":                             false,
		"sha-256=:not base64:":                   false,
	} {
		if err := checkDigest(field, body); (err == nil) != ok {
			t.Errorf("%s: %v", field, err)
		}
	}
}
