package zk

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/frontend"
)

// Witness is the holder's secret input to Prove.
type Witness struct {
	Credential Credential
	Signed     SignedCommitment
	// Status opens the status-list word holding Credential.StatusIndex
	// (StatusList.Proof on the list whose root is in the Statement).
	Status StatusProof
	// Set is the membership proof, for InSet only (Set.Proof).
	Set SetProof
}

// Prove makes a proof of st from w with pk. It returns ErrUnsatisfied if the
// witness does not satisfy the statement (under age, revoked, not a member,
// another issuer or holder ...), ErrKeyMismatch if pk is for another
// predicate, ErrBadInput for malformed input. Prove reads no global state
// but draws the proof's blinding randomness from crypto/rand.
func Prove(pk *ProvingKey, st *Statement, w *Witness) (*Proof, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	if pk == nil || pk.pred != st.Predicate {
		return nil, fmt.Errorf("%w: proving key is not for %s", ErrKeyMismatch, st.Predicate)
	}
	if err := w.Credential.Validate(); err != nil {
		return nil, err
	}
	if err := w.Signed.Opens(&w.Credential); err != nil {
		return nil, err
	}
	switch {
	case w.Signed.Issuer != st.Issuer:
		return nil, fmt.Errorf("%w: credential signed by another issuer", ErrUnsatisfied)
	case w.Credential.Holder != st.Holder:
		return nil, fmt.Errorf("%w: credential issued to another holder", ErrUnsatisfied)
	case w.Credential.StatusList != st.StatusList:
		return nil, fmt.Errorf("%w: credential is in another status list", ErrUnsatisfied)
	}
	full, err := fullAssignment(st, w)
	if err != nil {
		return nil, err
	}
	wit, err := frontend.NewWitness(full, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("%w: witness: %v", ErrBadInput, err)
	}
	ccs, err := st.Predicate.constraintSystem()
	if err != nil {
		return nil, err
	}
	proof, err := groth16bn254.Prove(ccs, pk.pk, wit)
	if err != nil {
		// The solver failing is the only expected error: an unsatisfied
		// constraint. gnark does not give it a sentinel.
		return nil, fmt.Errorf("%w: %s: %v", ErrUnsatisfied, st.Predicate, err)
	}
	return &Proof{pred: st.Predicate, p: *proof}, nil
}

// Verify checks proof against st with vk. It returns nil, or ErrInvalidProof,
// ErrKeyMismatch or ErrBadInput (wrapped). Deterministic: safe inside a
// chain module.
func Verify(vk *VerifyingKey, st *Statement, proof *Proof) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if vk == nil || vk.pred != st.Predicate {
		return fmt.Errorf("%w: verifying key is not for %s", ErrKeyMismatch, st.Predicate)
	}
	if proof == nil || proof.pred != st.Predicate {
		return fmt.Errorf("%w: proof is not for %s", ErrInvalidProof, st.Predicate)
	}
	pub, err := st.publicAssignment()
	if err != nil {
		return err
	}
	wit, err := frontend.NewWitness(pub, ecc.BN254.ScalarField(), frontend.PublicOnly())
	if err != nil {
		return fmt.Errorf("%w: public inputs: %v", ErrBadInput, err)
	}
	vec, ok := wit.Vector().(fr.Vector)
	if !ok {
		return errors.New("zk: public witness is not a BN254 vector") // broken invariant
	}
	if err := groth16bn254.Verify(&proof.p, vk.vk, vec); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidProof, err)
	}
	return nil
}

// fullAssignment fills every circuit input from the statement and witness.
func fullAssignment(st *Statement, w *Witness) (frontend.Circuit, error) {
	pub, err := st.publicAssignment()
	if err != nil {
		return nil, err
	}
	sig, err := parseSignature(w.Signed.Signature)
	if err != nil {
		return nil, err
	}
	var cred credentialVars
	for i, a := range w.Credential.Attributes {
		cred.Attributes[i] = a
	}
	cred.Salt = w.Credential.Salt.bigInt()
	cred.StatusIndex = w.Credential.StatusIndex
	cred.Signature.R.X = sig.R.X.BigInt(new(big.Int))
	cred.Signature.R.Y = sig.R.Y.BigInt(new(big.Int))
	cred.Signature.S = new(big.Int).SetBytes(sig.S[:])
	cred.StatusWord = w.Status.Word.bigInt()
	for i, s := range w.Status.Path {
		cred.StatusPath[i] = s.bigInt()
	}
	switch c := pub.(type) {
	case *ageCircuit:
		c.Cred = cred
	case *setCircuit:
		c.Cred = cred
		c.SetIndex = w.Set.Index
		for i, s := range w.Set.Path {
			c.SetPath[i] = s.bigInt()
		}
	case *rangeCircuit:
		c.Cred = cred
	}
	return pub, nil
}
