package chain

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/codec"
)

func decodeValidatorSetErr(b []byte) error { _, err := DecodeValidatorSet(b); return err }

func TestValidatorSetRoundTrip(t *testing.T) {
	max := &ValidatorSet{}
	for i := 0; i < MaxValidators; i++ {
		id := fmt.Sprintf("%0*d", MaxValidatorID, i)
		max.Validators = append(max.Validators, Validator{ID: id, PubKey: bytes.Repeat([]byte{byte(i)}, MaxPubKeyLen)})
	}
	sets := []*ValidatorSet{
		{},
		testValidators(testKeys(t, edSuite, 4)),
		testValidators(testKeys(t, smSuite, 3)),
		{Validators: []Validator{{ID: "", PubKey: nil}}},
		max,
	}
	for _, vs := range sets {
		enc := vs.Encode()
		got, err := DecodeValidatorSet(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, vs) {
			t.Fatalf("decoded %+v, want %+v", got, vs)
		}
		if !bytes.Equal(got.Encode(), enc) {
			t.Fatal("re-encoding differs")
		}
		if got.Hash(edSuite) != edSuite.Hash(enc) {
			t.Fatal("Hash is not the hash of the encoding")
		}
		mustFailPrefixes(t, enc, decodeValidatorSetErr)
	}
}

func TestDecodeValidatorSetStrict(t *testing.T) {
	tooMany := codec.NewWriter(0)
	tooMany.Uint(MaxValidators + 1)
	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"count over limit", tooMany.Bytes(), codec.ErrTooLong},
		{"id too long", (&ValidatorSet{Validators: []Validator{{ID: strings.Repeat("v", MaxValidatorID+1)}}}).Encode(), codec.ErrTooLong},
		{"key too long", (&ValidatorSet{Validators: []Validator{{ID: "v", PubKey: make([]byte, MaxPubKeyLen+1)}}}).Encode(), codec.ErrTooLong},
		{"id unprintable", (&ValidatorSet{Validators: []Validator{{ID: "v\x01"}}}).Encode(), codec.ErrBadString},
		{"count past the list", []byte{2, 1, 'a', 0}, codec.ErrShort},
		{"non-minimal count", []byte{0x80, 0x00}, codec.ErrVarint},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := DecodeValidatorSet(tc.enc)
			if err == nil || vs != nil {
				t.Fatalf("accepted %+v", vs)
			}
			if !errors.Is(err, ErrBadValidators) || !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidatorSetValidate(t *testing.T) {
	keys := testKeys(t, edSuite, 3)
	good := testValidators(keys)
	with := func(f func(vs *ValidatorSet)) *ValidatorSet {
		vs := &ValidatorSet{Validators: append([]Validator(nil), good.Validators...)}
		f(vs)
		return vs
	}
	tooMany := &ValidatorSet{}
	for i := 0; i <= MaxValidators; i++ {
		tooMany.Validators = append(tooMany.Validators, Validator{ID: fmt.Sprint(i), PubKey: keys[0].Public().Bytes()})
	}
	tests := []struct {
		name string
		vs   *ValidatorSet
		ok   bool
	}{
		{"good", good, true},
		{"one", with(func(vs *ValidatorSet) { vs.Validators = vs.Validators[:1] }), true},
		{"empty", &ValidatorSet{}, false},
		{"too many", tooMany, false},
		{"duplicate id", with(func(vs *ValidatorSet) { vs.Validators[2].ID = vs.Validators[0].ID }), false},
		{"empty id", with(func(vs *ValidatorSet) { vs.Validators[1].ID = "" }), false},
		{"long id", with(func(vs *ValidatorSet) { vs.Validators[1].ID = strings.Repeat("v", MaxValidatorID+1) }), false},
		{"unprintable id", with(func(vs *ValidatorSet) { vs.Validators[1].ID = "v\t1" }), false},
		{"bad key", with(func(vs *ValidatorSet) { vs.Validators[1].PubKey = []byte{1, 2, 3} }), false},
		{"key of another suite", with(func(vs *ValidatorSet) { vs.Validators[1].PubKey = testKey(t, smSuite, 0).Public().Bytes() }), false},
	}
	for _, tc := range tests {
		err := tc.vs.Validate(edSuite)
		if tc.ok != (err == nil) {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrBadValidators) {
			t.Errorf("%s: error %v does not wrap ErrBadValidators", tc.name, err)
		}
	}
	for i, v := range good.Validators {
		if good.Index(v.ID) != i {
			t.Fatalf("Index(%s) = %d", v.ID, good.Index(v.ID))
		}
	}
	if good.Index("nobody") != -1 {
		t.Fatal("Index of an unknown ID")
	}
}

func TestValidatorSetHashOrderMatters(t *testing.T) {
	vs := testValidators(testKeys(t, edSuite, 3))
	swapped := &ValidatorSet{Validators: []Validator{vs.Validators[1], vs.Validators[0], vs.Validators[2]}}
	if vs.Hash(edSuite) == swapped.Hash(edSuite) {
		t.Fatal("reordering the set kept its hash")
	}
}

// TestVouchers: f+1 of 3f+1 Byzantine-tolerant validators, one of a
// crash-fault-only set.
func TestVouchers(t *testing.T) {
	for _, c := range []struct {
		n    int
		cft  bool
		want int
	}{{1, false, 1}, {4, false, 2}, {5, false, 2}, {7, false, 3}, {10, false, 4}, {3, true, 1}, {5, true, 1}} {
		vs := ValidatorSet{CrashFaultOnly: c.cft, Validators: make([]Validator, c.n)}
		if got := vs.Vouchers(); got != c.want {
			t.Errorf("n=%d cft=%v: %d vouchers, want %d", c.n, c.cft, got, c.want)
		}
	}
}
