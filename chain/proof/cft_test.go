package proof

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// TestCrashFaultOnlySet: a bundle from a Raft chain (5 validators, the
// crash-fault-only rule) verifies with a majority certificate (3 of 5) under
// the trusted set's hash; the same signatures do not verify when the rule is
// flipped to the Byzantine one, which needs 4 of 5, and the flipped set is
// another trust anchor.
func TestCrashFaultOnlySet(t *testing.T) {
	s := ed25519sha256.New()
	f := newFixture(t, s)
	seed := sha256.Sum256([]byte("proof test validator 4"))
	k, err := s.PrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	f.keys = append(f.keys, k)
	f.vs.Validators = append(f.vs.Validators, chain.Validator{ID: "node-4", PubKey: k.Public().Bytes()})
	f.vs.CrashFaultOnly = true
	f.header.ValidatorsHash = f.vs.Hash(s)
	f.commit = f.sign(t, &f.header, 0, 2, 4)

	b := f.txBundle(1)
	got, err := Decode(mustEncode(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Validators.CrashFaultOnly {
		t.Fatal("flag lost in the bundle's encoding")
	}
	trusted := f.vs.Hash(s)
	if _, err := Verify(got, Options{TrustedValidators: trusted}); err != nil {
		t.Fatalf("3 of 5 under the CFT rule: %v", err)
	}

	flipped := *got
	flipped.Validators.CrashFaultOnly = false
	if _, err := Verify(&flipped, Options{TrustedValidators: trusted}); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("flipped rule under the CFT anchor: %v", err)
	}
	if _, err := Verify(&flipped, Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("flipped rule, no anchor: %v", err)
	}
	// Under the Byzantine rule 3 of 5 is not enough even for a header that
	// names the Byzantine set.
	flipped.Header.ValidatorsHash = flipped.Validators.Hash(s)
	flipped.Commit = f.sign(t, &flipped.Header, 0, 2, 4)
	if _, err := Verify(&flipped, Options{}); !errors.Is(err, ErrInvalid) || !errors.Is(err, chain.ErrNoQuorum) {
		t.Fatalf("3 of 5 under the BFT rule: %v", err)
	}
}
