package zk

import (
	"bytes"
	"errors"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"testing"
	"time"
)

func TestSignedCommitmentRoundTrip(t *testing.T) {
	f := newFixture(t)
	b, err := f.signed.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got SignedCommitment
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got != f.signed {
		t.Fatal("round trip changed the signed commitment")
	}
	if err := got.Opens(&f.cred); err != nil {
		t.Fatal(err)
	}
	got.Commitment = FieldFromUint64(1)
	if err := got.Verify(); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("other commitment: got %v", err)
	}
	if err := got.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, ErrBadInput) {
		t.Fatalf("short input: got %v", err)
	}
}

func TestCredentialRoundTrip(t *testing.T) {
	f := newFixture(t)
	b, err := f.cred.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Credential
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got != f.cred {
		t.Fatal("round trip changed the credential")
	}
	bad := bytes.Clone(b)
	copy(bad[1+NumAttributes*8:], bytes.Repeat([]byte{0xff}, 32)) // holder >= r
	if err := got.UnmarshalBinary(bad); !errors.Is(err, ErrBadInput) {
		t.Fatalf("non-canonical field: got %v", err)
	}
}

func TestStatementRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, p := range Predicates {
		st := f.statement(t, p)
		b, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Statement
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got != st {
			t.Fatalf("%s: round trip changed the statement", p)
		}
	}
	st := f.statement(t, InRange)
	st.Min, st.Max = 5, 4
	if err := st.Validate(); !errors.Is(err, ErrBadInput) {
		t.Fatalf("empty range: got %v", err)
	}
	st = f.statement(t, AgeAtLeast)
	st.SetRoot = FieldFromUint64(1)
	if err := st.Validate(); !errors.Is(err, ErrBadInput) {
		t.Fatalf("field of another predicate: got %v", err)
	}
}

func TestIssuerKeyRoundTrip(t *testing.T) {
	k, err := GenerateIssuerKey(seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.MarshalBinary()
	k2, err := ParseIssuerKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Public() != k.Public() {
		t.Fatal("public key changed")
	}
	pub := k.Public()
	if _, err := ParseIssuerPublicKey(pub[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIssuerPublicKey(make([]byte, 32)); !errors.Is(err, ErrBadInput) {
		t.Fatalf("zero key: got %v", err)
	}
}

// TestStatusRootMatchesNaive: the sparse tree equals hashing every leaf.
func TestStatusRootMatchesNaive(t *testing.T) {
	bits := make([]byte, 300)
	bits[3], bits[150], bits[299] = 0x10, 0x01, 0x80
	l, err := NewStatusList(bits)
	if err != nil {
		t.Fatal(err)
	}
	// Naive: every one of the 2^16 leaves hashed, level by level.
	level := make([][32]byte, 1<<StatusDepth)
	for w := range level {
		var word [statusWordBytes]byte
		if w*statusWordBytes < len(bits) {
			copy(word[:], bits[w*statusWordBytes:])
		}
		var e fr.Element
		e.SetBytes(word[:])
		h := hashN(tagStatusLeaf, e)
		level[w] = h.Bytes()
	}
	for len(level) > 1 {
		next := make([][32]byte, len(level)/2)
		for i := range next {
			a, b := Field(level[2*i]).elem(), Field(level[2*i+1]).elem()
			h := compress(a, b)
			next[i] = h.Bytes()
		}
		level = next
	}
	if l.Root() != Field(level[0]) {
		t.Fatal("sparse status root differs from the naive one")
	}
	for _, i := range []uint32{0, 27, 1207, 2392} {
		want := bits[i/8]>>(7-i%8)&1 == 1
		if l.Revoked(i) != want {
			t.Fatalf("Revoked(%d) = %v", i, !want)
		}
		p, err := l.Proof(i)
		if err != nil {
			t.Fatal(err)
		}
		sib := make([]Field, StatusDepth)
		copy(sib, p.Path[:])
		leaf := hashN(tagStatusLeaf, p.Word.elem())
		if r := merkleRoot(leaf, uint64(i/StatusWordBits), elems(sib)); fieldOf(&r) != l.Root() {
			t.Fatalf("proof for %d does not reach the root", i)
		}
	}
	if _, err := NewStatusList(make([]byte, MaxStatusBytes+1)); !errors.Is(err, ErrBadInput) {
		t.Fatalf("oversized list: got %v", err)
	}
}

func TestAgeCutoff(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		today, born time.Time
		ofAge       bool
	}{
		{day(2026, 3, 14), day(2008, 3, 14), true},
		{day(2026, 3, 14), day(2008, 3, 15), false},
		{day(2026, 2, 28), day(2008, 2, 29), false},
		{day(2026, 3, 1), day(2008, 2, 29), true},
		{day(2024, 2, 29), day(2006, 2, 28), true},
		{day(2024, 2, 29), day(2006, 3, 1), false},
		{day(2026, 1, 1), day(1950, 6, 1), true},
	}
	for _, c := range cases {
		cut, err := AgeCutoff(c.today, 18)
		if err != nil {
			t.Fatal(err)
		}
		if got := DateValue(c.born) <= cut; got != c.ofAge {
			t.Errorf("today %s born %s: of age %v, want %v", c.today.Format(time.DateOnly), c.born.Format(time.DateOnly), got, c.ofAge)
		}
	}
	if DateValue(day(1970, 1, 1)) != DateBias || DateValue(day(1969, 12, 31)) != DateBias-1 {
		t.Fatal("DateValue epoch")
	}
}

func elems(fs []Field) []fr.Element {
	out := make([]fr.Element, len(fs))
	for i, f := range fs {
		out[i] = f.elem()
	}
	return out
}
