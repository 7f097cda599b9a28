package suites

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

func TestByName(t *testing.T) {
	want := []string{"ed25519-sha256", "sm2-sm3"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	Names()[0] = "mutated"
	if Names()[0] != want[0] {
		t.Fatal("Names() shares its slice")
	}
	for _, name := range want {
		s, err := ByName(name)
		if err != nil || s.Name() != name {
			t.Fatalf("ByName(%q) = %v, %v", name, s, err)
		}
	}
	if Default.Name() != "ed25519-sha256" {
		t.Fatalf("Default is %q", Default.Name())
	}
	for _, name := range []string{"", "ED25519-SHA256", "sm2", "secp256k1"} {
		_, err := ByName(name)
		if !errors.Is(err, crypto.ErrUnknownSuite) || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("ByName(%q) error = %v", name, err)
		}
	}
}

// TestConformance checks the crypto.Suite contract for every suite.
func TestConformance(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s, _ := ByName(name)
			parts := [][]byte{[]byte("block"), nil, []byte("header")}
			h := s.NewHasher()
			for _, p := range parts {
				h.Write(p)
			}
			if got := s.Hash(parts...); !bytes.Equal(got[:], h.Sum(nil)) || h.Size() != crypto.HashSize {
				t.Fatal("Hash disagrees with NewHasher")
			}
			if s.Hash() == s.Hash([]byte{0}) {
				t.Fatal("Hash ignores its input")
			}

			priv, err := s.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("vote for block 7")
			sig, err := priv.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := s.PublicKey(priv.Public().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Verify(msg, sig) || pub.Verify(msg[1:], sig) {
				t.Fatal("sign/verify through the interface failed")
			}
			again, err := s.PrivateKey(priv.Bytes())
			if err != nil || !bytes.Equal(again.Bytes(), priv.Bytes()) ||
				!bytes.Equal(again.Public().Bytes(), pub.Bytes()) {
				t.Fatal("private key does not round-trip")
			}
			if _, err := s.PublicKey(pub.Bytes()[1:]); !errors.Is(err, crypto.ErrBadPublicKey) {
				t.Fatalf("truncated public key: %v", err)
			}
			if _, err := s.PrivateKey(priv.Bytes()[1:]); !errors.Is(err, crypto.ErrBadPrivateKey) {
				t.Fatalf("truncated private key: %v", err)
			}
		})
	}
	// A signature from one suite does not verify under the other.
	ed, _ := ByName("ed25519-sha256")
	sm, _ := ByName("sm2-sm3")
	k1, _ := ed.GenerateKey(nil)
	k2, _ := sm.GenerateKey(nil)
	sig, _ := k1.Sign([]byte("m"))
	if k2.Public().Verify([]byte("m"), sig) {
		t.Fatal("Ed25519 signature verified as SM2")
	}
}
