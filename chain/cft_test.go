package chain

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/polityledger/polity/chain/codec"
)

// TestCrashFaultOnlyQuorum: a crash-fault-only set needs a majority; any
// two majorities intersect, and a majority survives floor((n-1)/2) crashes.
func TestCrashFaultOnlyQuorum(t *testing.T) {
	want := map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 8: 5, 9: 5, 10: 6}
	for n := 1; n <= 10; n++ {
		vs := &ValidatorSet{Validators: make([]Validator, n), CrashFaultOnly: true}
		q := vs.Quorum()
		if q != want[n] {
			t.Errorf("CFT Quorum(%d) = %d, want %d", n, q, want[n])
		}
		if 2*q <= n || q > n-(n-1)/2 {
			t.Errorf("CFT Quorum(%d) = %d: majorities must intersect and survive %d crashes", n, q, (n-1)/2)
		}
	}
}

// TestCrashFaultOnlyEncoding: Byzantine sets keep their version-1 encoding
// (and hash); the flag gives another encoding, hash and strict decoding.
func TestCrashFaultOnlyEncoding(t *testing.T) {
	keys := testKeys(t, edSuite, 5)
	bft := testValidators(keys)
	v1 := codec.NewWriter(0)
	v1.Uint(5)
	for _, v := range bft.Validators {
		v1.String(v.ID)
		v1.VarBytes(v.PubKey)
	}
	if !bytes.Equal(bft.Encode(), v1.Bytes()) {
		t.Fatal("a Byzantine set's encoding changed")
	}
	cft := testValidators(keys)
	cft.CrashFaultOnly = true
	enc := cft.Encode()
	if bft.Hash(edSuite) == cft.Hash(edSuite) {
		t.Fatal("the flag does not change the set's hash")
	}
	got, err := DecodeValidatorSet(enc)
	if err != nil || !reflect.DeepEqual(got, cft) || !bytes.Equal(got.Encode(), enc) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	mustFailPrefixes(t, enc, decodeValidatorSetErr)
	badRule := bytes.Clone(enc)
	badRule[len(cftTagBytes)] = 2
	if _, err := DecodeValidatorSet(badRule); !errors.Is(err, codec.ErrBadValue) {
		t.Fatalf("unknown rule: %v", err)
	}
	if _, err := DecodeValidatorSet(append(bytes.Clone(enc), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// TestVerifyCommitCrashFaultOnly: 3 of 5 certify under the CFT rule, not
// under the Byzantine one; a certificate is checked against the rule of the
// set the header names, so flipping the flag is a set mismatch.
func TestVerifyCommitCrashFaultOnly(t *testing.T) {
	s := edSuite
	keys := testKeys(t, s, 5)
	cft := testValidators(keys)
	cft.CrashFaultOnly = true
	bft := testValidators(keys)
	h := testHeader(s, cft, nil)
	if err := VerifyCommit(s, cft, h, signCommit(t, s, h, keys, 0, 2, 4)); err != nil {
		t.Fatalf("majority rejected: %v", err)
	}
	if err := VerifyCommit(s, cft, h, signCommit(t, s, h, keys, 0, 4)); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("2 of 5: %v", err)
	}
	if err := VerifyCommit(s, bft, h, signCommit(t, s, h, keys, 0, 2, 4)); !errors.Is(err, ErrCertMismatch) {
		t.Fatalf("flag flipped: %v", err)
	}
	hb := testHeader(s, bft, nil)
	if err := VerifyCommit(s, bft, hb, signCommit(t, s, hb, keys, 0, 2, 4)); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("3 of 5 under the BFT rule: %v", err)
	}
}
