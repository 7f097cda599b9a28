package httpsig

import (
	"testing"
)

func FuzzParseSignatureHeaders(f *testing.F) {
	f.Add(`sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`,
		`sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`)
	f.Add(`sig=("@method" "@authority");created=1;expires=2;nonce="a\"b\\c";keyid="did:x:y#k";alg="ed25519", b=?0, c;d=tok/en:1`, `sig=:AAAA:, other=:BBBB:`)
	f.Add(`sig=(a b), x=-12;y=:AA==:`, `sig=1.5`)
	f.Fuzz(func(t *testing.T, input, signature string) {
		for _, label := range []string{"sig", "sig-b26"} {
			s, err := parseSignature(input, signature, label)
			if err != nil {
				continue
			}
			// What parses re-serialises to a form that parses the same.
			again := label + "=" + serializeInnerList(s.covered, s.params)
			s2, err := parseSignature(again, signature, label)
			if err != nil {
				t.Fatalf("re-serialised %q does not parse: %v", again, err)
			}
			if label+"="+serializeInnerList(s2.covered, s2.params) != again {
				t.Fatalf("serialisation not stable: %q", again)
			}
		}
		ms, err := parseDictionary(input)
		if err == nil && len(ms) == 0 {
			t.Fatal("empty dictionary accepted")
		}
		_ = checkDigest(input, []byte(signature))
	})
}
