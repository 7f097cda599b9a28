package did_test

import (
	"errors"
	"strings"
	"testing"

	ariesdid "github.com/hyperledger/aries-framework-go/component/models/did"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/identity/did"
)

const (
	keyID = "0123456789abcdef0123456789abcdef01234567"
	regID = "0123456789abcdef0123456789abcdef"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		kind did.Kind
	}{
		{"did:polity:" + keyID, did.KindKey},
		{"did:polity:" + regID, did.KindRegistered},
		{"did:polity:" + strings.ToUpper(regID), 0},
		{"did:polity:" + regID[:31], 0},
		{"did:polity:" + regID + "0", 0},
		{"did:polity:" + regID[:31] + "g", 0},
		{"did:Polity:" + regID, 0},
		{"did:other:" + regID, 0},
		{"did:polity:" + regID + "#key-1", 0},
		{"did:polity:" + regID + "/path", 0},
		{"did:polity:", 0},
		{"", 0},
		{" did:polity:" + regID, 0},
	}
	for _, tc := range tests {
		d, err := did.Parse(tc.in)
		if tc.kind == 0 {
			if !errors.Is(err, did.ErrSyntax) {
				t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", tc.in, d, err)
			}
			continue
		}
		if err != nil || d.Kind != tc.kind || d.String() != tc.in {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, d, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	good := []string{"did:polity:" + regID + "#key-1", "did:polity:" + keyID + "#key-0", "did:polity:" + regID + "#a", "did:polity:" + regID + "#" + "A" + strings.Repeat("b", 31)}
	for _, s := range good {
		u, err := did.ParseURL(s)
		if err != nil || u.String() != s {
			t.Errorf("ParseURL(%q) = %+v, %v", s, u, err)
		}
	}
	bad := []string{
		"did:polity:" + regID, "did:polity:" + regID + "#", "did:polity:" + regID + "#1key",
		"did:polity:" + regID + "#key 1", "did:polity:" + regID + "#key#1", "did:polity:" + regID + "#" + strings.Repeat("a", 33),
		"did:polity:" + regID + "?q=1#key-1", "did:polity:" + regID + "/p#key-1", "did:polity:abc#key-1",
		"did:polity:" + regID + "#ké",
	}
	for _, s := range bad {
		if u, err := did.ParseURL(s); !errors.Is(err, did.ErrSyntax) {
			t.Errorf("ParseURL(%q) = %+v, %v; want ErrSyntax", s, u, err)
		}
	}
}

func TestKeyDIDMatchesChain(t *testing.T) {
	s := ed25519sha256.New()
	k, _ := s.GenerateKey(nil)
	pub := k.Public().Bytes()
	u, err := did.ParseURL(chain.KeyDID(s, pub))
	if err != nil || u.DID.Kind != did.KindKey || u.Fragment != did.KeyFragment {
		t.Fatalf("chain.KeyDID does not parse as a key DID URL: %+v, %v", u, err)
	}
	if a, ok := u.DID.Address(); !ok || a != chain.AddressOf(s, pub) || did.KeyDID(a) != u.DID {
		t.Fatal("address round trip")
	}
	if d := did.Derive(s, pub); d.Kind != did.KindRegistered || len(d.ID) != did.RegisteredIDLen {
		t.Fatalf("Derive = %+v", d)
	}
	if did.Derive(s, pub) == did.Derive(s, append(pub[:31:31], pub[31]^1)) {
		t.Fatal("Derive ignores the key")
	}
}

// FuzzParse: the parser never panics, accepts only what re-prints as the
// input, and accepts nothing the generic DID Core grammar (aries) refuses.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"did:polity:" + regID, "did:polity:" + keyID, "did:polity:", "did:x:y", "did:polity:" + regID + "#k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := did.Parse(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("Parse(%q) prints %q", s, d.String())
		}
		if _, err := ariesdid.Parse(s); err != nil {
			t.Fatalf("accepted %q, which DID Core syntax refuses: %v", s, err)
		}
	})
}

// FuzzParseURL: as FuzzParse, for DID URLs.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"did:polity:" + regID + "#key-1", "did:polity:" + keyID + "#key-0", "did:polity:" + regID + "#", "did:polity:" + regID + "?a#b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := did.ParseURL(s)
		if err != nil {
			return
		}
		if u.String() != s {
			t.Fatalf("ParseURL(%q) prints %q", s, u.String())
		}
		a, err := ariesdid.ParseDIDURL(s)
		if err != nil || a.Fragment != u.Fragment || a.DID.String() != u.DID.String() {
			t.Fatalf("aries reads %q as %+v, %v", s, a, err)
		}
	})
}
