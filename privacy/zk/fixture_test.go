package zk

import (
	"math/rand/v2"
	"testing"
	"time"
)

// fixture is one issued credential with everything needed to prove about it.
type fixture struct {
	issuer  *IssuerKey
	cred    Credential
	signed  SignedCommitment
	status  *StatusList
	bits    []byte
	set     *Set
	today   time.Time
	holder  string
	listID  string
	attrSet uint8 // attribute index holding the school code
}

const (
	schoolCode = 4242
	schoolAttr = 1
	levelAttr  = 2
)

func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rng := seeded(1)
	f := &fixture{holder: "did:polity:citizen:alice", listID: "did:polity:edu-ministry#status-1",
		today: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC), attrSet: schoolAttr}
	var err error
	if f.issuer, err = GenerateIssuerKey(rng); err != nil {
		t.Fatal(err)
	}
	var attrs Attributes
	attrs[AttrBirthDate] = DateValue(time.Date(2004, 7, 1, 0, 0, 0, 0, time.UTC)) // 21 in 2026
	attrs[schoolAttr] = schoolCode
	attrs[levelAttr] = 3
	if f.cred, err = NewCredential(attrs, f.holder, f.listID, 1000, rng); err != nil {
		t.Fatal(err)
	}
	if f.signed, err = f.issuer.Sign(&f.cred); err != nil {
		t.Fatal(err)
	}
	f.bits = make([]byte, 4096)
	f.bits[0] = 0xff                    // indices 0..7 revoked
	f.bits[1000/8] = 0x80 >> 1          // index 1001 revoked; 1000 (ours) is not
	f.bits[2000/8] = 0x80 >> (2000 % 8) // index 2000 revoked
	if f.status, err = NewStatusList(f.bits); err != nil {
		t.Fatal(err)
	}
	if f.set, err = NewSet([]uint64{17, schoolCode, 99, 123456}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) statement(t testing.TB, p Predicate) Statement {
	t.Helper()
	ch, err := ChallengeFromNonce([]byte("verifier nonce 0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	st := Statement{Predicate: p, Issuer: f.issuer.Public(), Holder: f.cred.Holder,
		StatusList: f.cred.StatusList, StatusRoot: f.status.Root(), Challenge: ch}
	switch p {
	case AgeAtLeast:
		if st.Cutoff, err = AgeCutoff(f.today, 18); err != nil {
			t.Fatal(err)
		}
	case InSet:
		st.AttrIndex = f.attrSet
		st.SetRoot = f.set.Root()
	case InRange:
		st.AttrIndex = levelAttr
		st.Min, st.Max = 2, 5
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) witness(t testing.TB) Witness {
	t.Helper()
	sp, err := f.status.Proof(f.cred.StatusIndex)
	if err != nil {
		t.Fatal(err)
	}
	w := Witness{Credential: f.cred, Signed: f.signed, Status: sp}
	if mp, err := f.set.Proof(f.cred.Attributes[f.attrSet]); err == nil {
		w.Set = mp
	}
	return w
}
