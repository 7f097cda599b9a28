package zk

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/test"
)

// solve runs gnark's test engine (no compilation, no keys) on the full
// assignment: the fast way to check which witnesses satisfy a circuit.
func solve(t *testing.T, st Statement, w Witness) error {
	t.Helper()
	full, err := fullAssignment(&st, &w)
	if err != nil {
		t.Fatal(err)
	}
	return test.IsSolved(st.Predicate.circuit(), full, ecc.BN254.ScalarField())
}

func TestCircuitsAcceptValidWitness(t *testing.T) {
	f := newFixture(t)
	for _, p := range Predicates {
		t.Run(p.String(), func(t *testing.T) {
			if err := solve(t, f.statement(t, p), f.witness(t)); err != nil {
				t.Fatalf("valid witness rejected: %v", err)
			}
		})
	}
}

// TestCircuitsRejectUnsound: each case changes the statement or the witness
// so the claim is false; the circuit must not be satisfiable.
func TestCircuitsRejectUnsound(t *testing.T) {
	f := newFixture(t)
	other, err := GenerateIssuerKey(seeded(2))
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := HashDID("did:polity:citizen:mallory")
	if err != nil {
		t.Fatal(err)
	}
	otherList, err := HashStatusListID("did:polity:edu-ministry#status-2")
	if err != nil {
		t.Fatal(err)
	}
	// A credential at a revoked index, validly signed.
	revoked := f.cred
	revoked.StatusIndex = 1001
	revokedSigned, err := f.issuer.Sign(&revoked)
	if err != nil {
		t.Fatal(err)
	}
	revokedStatus, err := f.status.Proof(1001)
	if err != nil {
		t.Fatal(err)
	}
	// A set without the holder's school.
	otherSet, err := NewSet([]uint64{17, 99})
	if err != nil {
		t.Fatal(err)
	}

	type tc struct {
		name string
		p    Predicate
		edit func(st *Statement, w *Witness)
	}
	cases := []tc{
		{"under age", AgeAtLeast, func(st *Statement, w *Witness) {
			st.Cutoff, _ = AgeCutoff(f.today, 22)
		}},
		{"born a day after the cutoff", AgeAtLeast, func(st *Statement, w *Witness) {
			st.Cutoff = f.cred.Attributes[AttrBirthDate] - 1
		}},
		{"set non-member attribute", InSet, func(st *Statement, w *Witness) { st.AttrIndex = levelAttr }},
		{"set without the school", InSet, func(st *Statement, w *Witness) { st.SetRoot = otherSet.Root() }},
		{"set proof for another leaf", InSet, func(st *Statement, w *Witness) { w.Set.Index ^= 1 }},
		{"below range", InRange, func(st *Statement, w *Witness) { st.Min, st.Max = 4, 10 }},
		{"above range", InRange, func(st *Statement, w *Witness) { st.Min, st.Max = 0, 2 }},
		{"range on another attribute", InRange, func(st *Statement, w *Witness) { st.AttrIndex = schoolAttr }},
	}
	for _, p := range Predicates {
		cases = append(cases,
			tc{"other issuer key", p, func(st *Statement, w *Witness) { st.Issuer = other.Public() }},
			tc{"wrong holder", p, func(st *Statement, w *Witness) { st.Holder = mallory }},
			tc{"other status list", p, func(st *Statement, w *Witness) { st.StatusList = otherList }},
			tc{"tampered status root", p, func(st *Statement, w *Witness) { st.StatusRoot = FieldFromUint64(7) }},
			tc{"revoked index", p, func(st *Statement, w *Witness) {
				w.Credential, w.Signed, w.Status = revoked, revokedSigned, revokedStatus
			}},
			tc{"status proof for another word", p, func(st *Statement, w *Witness) {
				w.Status, _ = f.status.Proof(f.cred.StatusIndex + StatusWordBits)
			}},
			tc{"attribute changed after signing", p, func(st *Statement, w *Witness) {
				w.Credential.Attributes[AttrBirthDate] -= 365 * 30
				w.Credential.Attributes[levelAttr] = 4
			}},
			tc{"salt changed after signing", p, func(st *Statement, w *Witness) { w.Credential.Salt = FieldFromUint64(1) }},
			tc{"status index changed after signing", p, func(st *Statement, w *Witness) { w.Credential.StatusIndex++ }},
			tc{"signature of another issuer", p, func(st *Statement, w *Witness) {
				w.Signed, _ = other.Sign(&f.cred)
			}},
			tc{"zero challenge", p, func(st *Statement, w *Witness) { st.Challenge = Field{} }},
		)
	}
	for _, c := range cases {
		t.Run(c.p.String()+"/"+c.name, func(t *testing.T) {
			st, w := f.statement(t, c.p), f.witness(t)
			c.edit(&st, &w)
			if err := solve(t, st, w); err == nil {
				t.Fatal("circuit accepted a false claim")
			}
		})
	}
}
