package zk

import (
	"errors"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"sync"
	"testing"
)

var testKeys [InRange + 1]struct {
	once sync.Once
	keys Keys
	err  error
}

// singlePartyKeys makes real keys for p with gnark's single-party Groth16
// setup, once per test binary. Its toxic waste is known to this process:
// test and benchmark only. The ceremony path is TestCeremonyRoundTrip
// (small circuit) and BenchmarkCeremony (real circuits).
func singlePartyKeys(p Predicate) (Keys, error) {
	k := &testKeys[p]
	k.once.Do(func() {
		ccs, err := p.constraintSystem()
		if err != nil {
			k.err = err
			return
		}
		var pk groth16bn254.ProvingKey
		var vk groth16bn254.VerifyingKey
		if k.err = groth16bn254.Setup(ccs, &pk, &vk); k.err == nil {
			k.keys = Keys{Proving: &ProvingKey{pred: p, pk: &pk}, Verifying: &VerifyingKey{pred: p, vk: &vk}}
		}
	})
	return k.keys, k.err
}

func setupKeys(t *testing.T) map[Predicate]Keys {
	t.Helper()
	if testing.Short() {
		t.Skip("Groth16 setup of the real circuits skipped in -short mode")
	}
	out := make(map[Predicate]Keys)
	for _, p := range Predicates {
		k, err := singlePartyKeys(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = k
	}
	return out
}

// TestProveVerify: real Groth16 proofs through the key and proof encoders, and every tampered public input
// rejected by the verifier.
func TestProveVerify(t *testing.T) {
	keys := setupKeys(t)
	f := newFixture(t)
	for _, p := range Predicates {
		t.Run(p.String(), func(t *testing.T) {
			pkb, err := keys[p].Proving.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			pk, err := ParseProvingKey(pkb)
			if err != nil {
				t.Fatal(err)
			}
			vkb, err := keys[p].Verifying.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			vk, err := ParseVerifyingKey(vkb)
			if err != nil {
				t.Fatal(err)
			}
			st, w := f.statement(t, p), f.witness(t)
			proof, err := Prove(pk, &st, &w)
			if err != nil {
				t.Fatal(err)
			}
			pb, err := proof.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var decoded Proof
			if err := decoded.UnmarshalBinary(pb); err != nil {
				t.Fatal(err)
			}
			if err := Verify(vk, &st, &decoded); err != nil {
				t.Fatalf("valid proof rejected: %v", err)
			}

			other, _ := GenerateIssuerKey(seeded(3))
			mallory, _ := HashDID("did:polity:citizen:mallory")
			ch2, _ := ChallengeFromNonce([]byte("another verifier nonce 42"))
			tamper := []struct {
				name string
				edit func(*Statement)
			}{
				{"challenge", func(s *Statement) { s.Challenge = ch2 }},
				{"holder", func(s *Statement) { s.Holder = mallory }},
				{"issuer", func(s *Statement) { s.Issuer = other.Public() }},
				{"status root", func(s *Statement) { s.StatusRoot = FieldFromUint64(9) }},
				{"status list", func(s *Statement) { s.StatusList = FieldFromUint64(9) }},
			}
			switch p {
			case AgeAtLeast:
				tamper = append(tamper, struct {
					name string
					edit func(*Statement)
				}{"cutoff", func(s *Statement) { s.Cutoff -= 10 * 365 }})
			case InSet:
				tamper = append(tamper, struct {
					name string
					edit func(*Statement)
				}{"set root", func(s *Statement) { s.SetRoot = FieldFromUint64(5) }})
			case InRange:
				tamper = append(tamper, struct {
					name string
					edit func(*Statement)
				}{"min", func(s *Statement) { s.Min = 3 }})
			}
			for _, tc := range tamper {
				bad := st
				tc.edit(&bad)
				if err := Verify(vk, &bad, &decoded); !errors.Is(err, ErrInvalidProof) {
					t.Errorf("tampered %s: got %v, want ErrInvalidProof", tc.name, err)
				}
			}
			// A proof with a flipped byte fails to decode or to verify.
			pb[len(pb)-1] ^= 1
			var flipped Proof
			if err := flipped.UnmarshalBinary(pb); err == nil {
				if err := Verify(vk, &st, &flipped); !errors.Is(err, ErrInvalidProof) {
					t.Errorf("flipped proof: got %v", err)
				}
			}
			// Keys of another predicate are refused.
			q := Predicates[(int(p))%len(Predicates)]
			if err := Verify(keys[q].Verifying, &st, &decoded); !errors.Is(err, ErrKeyMismatch) {
				t.Errorf("other predicate's key: got %v", err)
			}
		})
	}
}

// TestProveRefusesFalseClaims: Prove reports ErrUnsatisfied instead of
// making a proof.
func TestProveRefusesFalseClaims(t *testing.T) {
	keys := setupKeys(t)
	f := newFixture(t)
	st, w := f.statement(t, AgeAtLeast), f.witness(t)
	st.Cutoff, _ = AgeCutoff(f.today, 30)
	if _, err := Prove(keys[AgeAtLeast].Proving, &st, &w); !errors.Is(err, ErrUnsatisfied) {
		t.Fatalf("under age: got %v, want ErrUnsatisfied", err)
	}
	st = f.statement(t, AgeAtLeast)
	st.Holder, _ = HashDID("did:polity:citizen:mallory")
	if _, err := Prove(keys[AgeAtLeast].Proving, &st, &w); !errors.Is(err, ErrUnsatisfied) {
		t.Fatalf("wrong holder: got %v, want ErrUnsatisfied", err)
	}
}
