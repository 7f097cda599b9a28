package zk

import (
	"errors"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// tinyCircuit: knowledge of a Poseidon2 preimage, bound to a public
// challenge, with the same gadgets as the real circuits. Small enough to
// run the whole ceremony in a unit test.
type tinyCircuit struct {
	Secret    frontend.Variable
	Digest    frontend.Variable `gnark:",public"`
	Challenge frontend.Variable `gnark:",public"`
}

func (c *tinyCircuit) Define(api frontend.API) error {
	g, err := newGadgets(api)
	if err != nil {
		return err
	}
	api.AssertIsEqual(g.hashN(tagCommitment, c.Secret), c.Digest)
	api.AssertIsDifferent(c.Challenge, 0)
	return nil
}

func tinyPhase2(t *testing.T) phase2Circuit {
	t.Helper()
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &tinyCircuit{})
	if err != nil {
		t.Fatal(err)
	}
	r := ccs.(*cs.R1CS)
	return phase2Circuit{ccs: r, sh: shapeOf(0, r)}
}

var beacon = []byte("beacon: governance block 12345")

// TestCeremonyRoundTrip: three contributors per phase on serialized state,
// the transcript verified, keys sealed, and a Groth16 proof made and checked
// with them; a tampered public input fails.
func TestCeremonyRoundTrip(t *testing.T) {
	c := tinyPhase2(t)
	n := c.sh.domain
	state, err := phase1Start(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != phase1Size(n, 0) {
		t.Fatalf("phase-1 start is %d bytes, formula says %d", len(state), phase1Size(n, 0))
	}
	var t1 [][]byte
	for range 3 {
		if state, err = phase1Contribute(state, n); err != nil {
			t.Fatal(err)
		}
		t1 = append(t1, state)
	}
	srs, err := phase1Verify(t1, beacon, n)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := srs.MarshalBinary(); len(b) != srsCommonsSize(n) {
		t.Fatalf("SRS is %d bytes, formula says %d", len(b), srsCommonsSize(n))
	}
	if state, err = c.start(srs); err != nil {
		t.Fatal(err)
	}
	var t2 [][]byte
	for range 3 {
		if state, err = c.contribute(state); err != nil {
			t.Fatal(err)
		}
		t2 = append(t2, state)
	}
	pk, vk, err := c.finish(srs, t2, beacon)
	if err != nil {
		t.Fatal(err)
	}

	secret := fr.NewElement(77)
	digest := hashN(tagCommitment, secret)
	full, err := frontend.NewWitness(&tinyCircuit{Secret: secret, Digest: digest, Challenge: 5}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	proof, err := groth16bn254.Prove(c.ccs, pk, full)
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16bn254.Verify(proof, vk, fr.Vector{digest, fr.NewElement(5)}); err != nil {
		t.Fatalf("proof with ceremony keys rejected: %v", err)
	}
	if err := groth16bn254.Verify(proof, vk, fr.Vector{digest, fr.NewElement(6)}); err == nil {
		t.Fatal("proof verified with another challenge")
	}
}

// TestCeremonyRejectsBadTranscripts: a dropped, reordered or corrupted
// contribution, or a wrong-sized state, fails verification.
func TestCeremonyRejectsBadTranscripts(t *testing.T) {
	c := tinyPhase2(t)
	n := c.sh.domain
	s0, _ := phase1Start(n)
	s1, err := phase1Contribute(s0, n)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := phase1Contribute(s1, n)
	s3, _ := phase1Contribute(s2, n)
	for name, tr := range map[string][][]byte{
		"dropped":            {s1, s3},
		"reordered":          {s2, s1, s3},
		"not from the start": {s2, s3},
	} {
		if _, err := phase1Verify(tr, beacon, n); !errors.Is(err, ErrCeremony) {
			t.Errorf("%s: got %v, want ErrCeremony", name, err)
		}
	}
	bad := append([]byte(nil), s2...)
	bad[len(bad)-40] ^= 1 // inside the last G1 point
	if _, err := phase1Verify([][]byte{s1, bad, s3}, beacon, n); err == nil {
		t.Error("corrupted contribution accepted")
	}
	if _, err := phase1Contribute(s1[:len(s1)-1], n); !errors.Is(err, ErrBadInput) {
		t.Errorf("short state: got %v", err)
	}
	if _, err := phase1Contribute(s1, n*2); !errors.Is(err, ErrBadInput) {
		t.Errorf("other domain: got %v", err)
	}
	if _, err := phase1Verify([][]byte{s1}, []byte("short"), n); !errors.Is(err, ErrBadInput) {
		t.Errorf("short beacon: got %v", err)
	}

	srs, err := phase1Verify([][]byte{s1, s2, s3}, beacon, n)
	if err != nil {
		t.Fatal(err)
	}
	p0, _ := c.start(srs)
	p1, err := c.contribute(p0)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := c.contribute(p1)
	if _, _, err := c.finish(srs, [][]byte{p2}, beacon); !errors.Is(err, ErrCeremony) {
		t.Errorf("phase 2 dropped contribution: got %v", err)
	}
	if _, _, err := c.finish(srs, [][]byte{p1, p2}, beacon); err != nil {
		t.Errorf("valid phase 2: %v", err)
	}
}
