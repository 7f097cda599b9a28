package chain

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

func TestTxRoundTrip(t *testing.T) {
	k := testKey(t, edSuite, 0)
	signed := testTx(t, edSuite, k, 42)
	tests := []struct {
		name string
		tx   *Tx
	}{
		{"signed", signed},
		{"zero", &Tx{}},
		{"nil args", &Tx{ChainID: "c", Sender: "s", PubKey: []byte{1}, Module: "m", Method: "x", Sig: []byte{2}}},
		{"max fields", &Tx{
			ChainID: strings.Repeat("c", MaxChainIDLen),
			Sender:  strings.Repeat("s", MaxSenderLen),
			PubKey:  bytes.Repeat([]byte{3}, MaxPubKeyLen),
			Nonce:   ^uint64(0),
			Module:  strings.Repeat("m", MaxNameLen),
			Method:  strings.Repeat("x", MaxNameLen),
			Args:    bytes.Repeat([]byte{4}, MaxArgsLen),
			Expiry:  ^uint64(0),
			Sig:     bytes.Repeat([]byte{5}, MaxSignatureLen),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.tx.Encode()
			if len(enc) > MaxTxSize {
				t.Fatalf("encoding of %d bytes exceeds MaxTxSize", len(enc))
			}
			got, err := DecodeTx(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.tx) {
				t.Fatalf("decoded %+v, want %+v", got, tc.tx)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatal("re-encoding differs")
			}
		})
	}
	if err := signed.Verify(edSuite); err != nil {
		t.Fatal(err)
	}
	got, _ := DecodeTx(signed.Encode())
	if err := got.Verify(edSuite); err != nil {
		t.Fatalf("decoded tx does not verify: %v", err)
	}
}

func TestDecodeTxStrict(t *testing.T) {
	base := testTx(t, edSuite, testKey(t, edSuite, 0), 1)
	mustFailPrefixes(t, base.Encode(), func(b []byte) error { _, err := DecodeTx(b); return err })

	with := func(f func(tx *Tx)) []byte {
		tx := base.Clone()
		f(tx)
		return tx.Encode()
	}
	wrongVersion := base.Encode()
	wrongVersion[0] = TxVersion + 1
	zeroVersion := base.Encode()
	zeroVersion[0] = 0
	// A non-minimal nonce: rebuild the encoding by hand.
	w := codec.NewWriter(0)
	w.Byte(TxVersion)
	w.String(base.ChainID)
	w.String(base.Sender)
	w.VarBytes(base.PubKey)
	w.Fixed([]byte{0x81, 0x00}) // 1, non-minimally
	w.String(base.Module)
	w.String(base.Method)
	w.VarBytes(base.Args)
	w.Uint(base.Expiry)
	w.VarBytes(base.Sig)
	nonMinimal := w.Bytes()

	tests := []struct {
		name string
		enc  []byte
		want error
	}{
		{"version 2", wrongVersion, codec.ErrBadValue},
		{"version 0", zeroVersion, codec.ErrBadValue},
		{"chain id too long", with(func(tx *Tx) { tx.ChainID = strings.Repeat("c", MaxChainIDLen+1) }), codec.ErrTooLong},
		{"sender too long", with(func(tx *Tx) { tx.Sender = strings.Repeat("s", MaxSenderLen+1) }), codec.ErrTooLong},
		{"pubkey too long", with(func(tx *Tx) { tx.PubKey = make([]byte, MaxPubKeyLen+1) }), codec.ErrTooLong},
		{"module too long", with(func(tx *Tx) { tx.Module = strings.Repeat("m", MaxNameLen+1) }), codec.ErrTooLong},
		{"method too long", with(func(tx *Tx) { tx.Method = strings.Repeat("m", MaxNameLen+1) }), codec.ErrTooLong},
		{"args too long", with(func(tx *Tx) { tx.Args = make([]byte, MaxArgsLen+1) }), codec.ErrTooLong},
		{"sig too long", with(func(tx *Tx) { tx.Sig = make([]byte, MaxSignatureLen+1) }), codec.ErrTooLong},
		{"whole tx too long", append(with(func(tx *Tx) { tx.Args = make([]byte, MaxArgsLen) }), make([]byte, 1024)...), nil},
		{"unprintable chain id", with(func(tx *Tx) { tx.ChainID = "gov\n" }), codec.ErrBadString},
		{"invalid utf-8 sender", with(func(tx *Tx) { tx.Sender = "did:\xff" }), codec.ErrBadString},
		{"unprintable method", with(func(tx *Tx) { tx.Method = "p\x00t" }), codec.ErrBadString},
		{"non-minimal nonce", nonMinimal, codec.ErrVarint},
		{"empty", nil, codec.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := DecodeTx(tc.enc)
			if err == nil || tx != nil {
				t.Fatalf("accepted: %+v", tx)
			}
			if !errors.Is(err, ErrTxMalformed) {
				t.Fatalf("error %v does not wrap ErrTxMalformed", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTxSignVerify(t *testing.T) {
	for _, s := range bothSuites {
		t.Run(s.Name(), func(t *testing.T) {
			k := testKey(t, s, 0)
			other := testKey(t, s, 1)
			base := testTx(t, s, k, 3)
			if err := base.Verify(s); err != nil {
				t.Fatalf("fresh tx: %v", err)
			}
			if base.Sender != KeyDID(s, k.Public().Bytes()) || !bytes.Equal(base.PubKey, k.Public().Bytes()) {
				t.Fatal("Sign did not set sender and public key")
			}
			dec, err := DecodeTx(base.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.Verify(s); err != nil {
				t.Fatalf("decoded tx: %v", err)
			}

			tests := []struct {
				name string
				f    func(tx *Tx)
				want error
			}{
				{"chain id", func(tx *Tx) { tx.ChainID = "identity" }, ErrBadSignature},
				{"nonce", func(tx *Tx) { tx.Nonce++ }, ErrBadSignature},
				{"module", func(tx *Tx) { tx.Module = "identity" }, ErrBadSignature},
				{"method", func(tx *Tx) { tx.Method = "get" }, ErrBadSignature},
				{"args changed", func(tx *Tx) { tx.Args = append(bytes.Clone(tx.Args[:len(tx.Args)-1]), 'X') }, ErrBadSignature},
				{"args extended", func(tx *Tx) { tx.Args = append(bytes.Clone(tx.Args), ' ') }, ErrBadSignature},
				{"args removed", func(tx *Tx) { tx.Args = nil }, ErrBadSignature},
				{"expiry", func(tx *Tx) { tx.Expiry++ }, ErrBadSignature},
				{"expiry cleared", func(tx *Tx) { tx.Expiry = 0 }, ErrBadSignature},
				{"sig byte", func(tx *Tx) { tx.Sig = bytes.Clone(tx.Sig); tx.Sig[len(tx.Sig)/2] ^= 1 }, ErrBadSignature},
				{"sig last byte", func(tx *Tx) { tx.Sig = bytes.Clone(tx.Sig); tx.Sig[len(tx.Sig)-1] ^= 0x80 }, ErrBadSignature},
				{"sig truncated", func(tx *Tx) { tx.Sig = tx.Sig[:len(tx.Sig)-1] }, ErrBadSignature},
				{"sig missing", func(tx *Tx) { tx.Sig = nil }, ErrTxMalformed},
				{"sig too long", func(tx *Tx) { tx.Sig = make([]byte, MaxSignatureLen+1) }, ErrTxMalformed},
				{"wrong sender DID", func(tx *Tx) { tx.Sender = KeyDID(s, other.Public().Bytes()) }, ErrWrongSender},
				{"sender other key form", func(tx *Tx) { tx.Sender = strings.Replace(tx.Sender, "#key-0", "#key-1", 1) }, ErrWrongSender},
				{"sender empty", func(tx *Tx) { tx.Sender = "" }, ErrWrongSender},
				{"pubkey swapped", func(tx *Tx) { tx.PubKey = other.Public().Bytes() }, ErrWrongSender},
				{"pubkey and sender swapped", func(tx *Tx) {
					tx.PubKey = other.Public().Bytes()
					tx.Sender = KeyDID(s, tx.PubKey)
				}, ErrBadSignature},
				{"pubkey garbage", func(tx *Tx) { tx.PubKey = []byte{1, 2, 3} }, ErrBadSignature},
				{"pubkey missing", func(tx *Tx) { tx.PubKey = nil }, ErrTxMalformed},
				{"bad chain id", func(tx *Tx) { tx.ChainID = "Gov" }, ErrTxMalformed},
				{"bad module", func(tx *Tx) { tx.Module = "" }, ErrTxMalformed},
				{"bad method", func(tx *Tx) { tx.Method = "9put" }, ErrTxMalformed},
				{"args too long", func(tx *Tx) { tx.Args = make([]byte, MaxArgsLen+1) }, ErrTxMalformed},
				{"sender unprintable", func(tx *Tx) { tx.Sender += "\n" }, ErrTxMalformed},
			}
			// VerifyTxs (batched signatures) gives each tx Verify's answer.
			batch := []*Tx{base}
			wants := []error{nil}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					tx := base.Clone()
					tc.f(tx)
					err := tx.Verify(s)
					if !errors.Is(err, tc.want) {
						t.Fatalf("Verify = %v, want %v", err, tc.want)
					}
					batch = append(batch, tx, base)
					wants = append(wants, tc.want, nil)
				})
			}
			for i, err := range VerifyTxs(s, batch) {
				if !errors.Is(err, wants[i]) || (wants[i] == nil) != (err == nil) {
					t.Errorf("VerifyTxs[%d] = %v, want %v", i, err, wants[i])
				}
			}
		})
	}
}

func TestTxCrossSuite(t *testing.T) {
	edTx := testTx(t, edSuite, testKey(t, edSuite, 0), 0)
	if err := edTx.Verify(smSuite); err == nil {
		t.Fatal("ed25519 tx verified under sm2-sm3")
	}
	smTx := testTx(t, smSuite, testKey(t, smSuite, 0), 0)
	if err := smTx.Verify(edSuite); err == nil {
		t.Fatal("sm2 tx verified under ed25519-sha256")
	}
}

func TestTxIDExcludesSignature(t *testing.T) {
	for _, s := range bothSuites {
		t.Run(s.Name(), func(t *testing.T) {
			k := testKey(t, s, 0)
			tx := testTx(t, s, k, 9)
			id := tx.ID(s)
			if id != s.Hash(tx.SigningBytes()) {
				t.Fatal("ID is not the hash of the signing bytes")
			}
			if !bytes.HasPrefix(tx.SigningBytes(), []byte("polity/tx/v1\x00")) {
				t.Fatal("signing bytes lack the domain tag")
			}
			// Re-signing (SM2 signatures are randomised) or dropping the
			// signature keeps the ID.
			again := tx.Clone()
			if err := again.Sign(s, k); err != nil {
				t.Fatal(err)
			}
			if again.ID(s) != id {
				t.Fatal("re-signing changed the ID")
			}
			again.Sig = nil
			if again.ID(s) != id {
				t.Fatal("dropping the signature changed the ID")
			}
			if bytes.Contains(tx.SigningBytes(), tx.Sig) {
				t.Fatal("signing bytes contain the signature")
			}
			// Every other field changes it.
			muts := []func(*Tx){
				func(tx *Tx) { tx.ChainID = "x" },
				func(tx *Tx) { tx.Sender = "x" },
				func(tx *Tx) { tx.PubKey = []byte("x") },
				func(tx *Tx) { tx.Nonce++ },
				func(tx *Tx) { tx.Module = "x" },
				func(tx *Tx) { tx.Method = "x" },
				func(tx *Tx) { tx.Args = []byte("x") },
				func(tx *Tx) { tx.Expiry++ },
			}
			for i, m := range muts {
				c := tx.Clone()
				m(c)
				if c.ID(s) == id {
					t.Errorf("mutation %d kept the ID", i)
				}
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
	}{
		{"gov", true},
		{"a", true},
		{"records.v2_x-y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"Gov", false},
		{"1gov", false},
		{"_gov", false},
		{"gov chain", false},
		{"gov\n", false},
		{"gov/x", false},
	}
	for _, tc := range tests {
		if got := ValidName(tc.s); got != tc.ok {
			t.Errorf("ValidName(%q) = %v", tc.s, got)
		}
	}
}

func TestAddressAndDID(t *testing.T) {
	for _, s := range bothSuites {
		pub := testKey(t, s, 0).Public().Bytes()
		a := AddressOf(s, pub)
		h := s.Hash([]byte("polity/address\x00"), pub)
		if !bytes.Equal(a[:], h[:20]) {
			t.Fatalf("%s: address %s is not the hash prefix", s.Name(), a)
		}
		if did := KeyDID(s, pub); did != "did:polity:"+a.String()+"#key-0" {
			t.Fatalf("%s: DID %s", s.Name(), did)
		}
		back, err := ParseAddress(a.String())
		if err != nil || back != a {
			t.Fatalf("ParseAddress(%s) = %s, %v", a, back, err)
		}
		if AddressOf(s, testKey(t, s, 1).Public().Bytes()) == a {
			t.Fatal("two keys share an address")
		}
	}
	for _, bad := range []string{"", "00", strings.Repeat("0", 39), strings.Repeat("0", 42), strings.Repeat("g", 40)} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
}

// TestTxMemo checks that the memoized ID and sender address always equal
// what the fields give: after Sign, on a changed clone, under another
// suite, and when taken concurrently (run with -race).
func TestTxMemo(t *testing.T) {
	for _, s := range bothSuites {
		t.Run(s.Name(), func(t *testing.T) {
			tx := testTx(t, s, testKey(t, s, 0), 3)
			fresh := func(tx *Tx) (crypto.Hash, Address) {
				return s.Hash(tx.SigningBytes()), AddressOf(s, tx.PubKey)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if id, a := fresh(tx); tx.ID(s) != id || tx.SenderAddress(s) != a {
						t.Error("memo differs from the fields")
					}
				})
			}
			wg.Wait()
			// Sign with another key: new public key, new ID and address.
			before := tx.ID(s)
			if err := tx.Sign(s, testKey(t, s, 1)); err != nil {
				t.Fatal(err)
			}
			if id, a := fresh(tx); tx.ID(s) != id || tx.SenderAddress(s) != a || id == before {
				t.Fatal("Sign left a stale memo")
			}
			// A clone is a new Tx: changing it leaves the original's memo alone.
			c := tx.Clone()
			if !bytes.Equal(c.Encode(), tx.Encode()) {
				t.Fatal("Clone lost a field")
			}
			c.Nonce++
			if id, _ := fresh(c); c.ID(s) != id || c.ID(s) == tx.ID(s) {
				t.Fatal("a changed clone kept the original's ID")
			}
			// A memo is per suite.
			other := edSuite
			if s.Name() == edSuite.Name() {
				other = smSuite
			}
			if tx.ID(other) != other.Hash(tx.SigningBytes()) || tx.ID(s) != s.Hash(tx.SigningBytes()) {
				t.Fatal("the memo of one suite answered for another")
			}
		})
	}
}

func TestIsKeyDID(t *testing.T) {
	pub := testKey(t, edSuite, 0).Public().Bytes()
	a := AddressOf(edSuite, pub)
	did := KeyDID(edSuite, pub)
	if !isKeyDID(did, a) {
		t.Fatal("refused the key's own DID")
	}
	for _, bad := range []string{"", did[:len(did)-1], did + "0", strings.ToUpper(did[:len(did)-6]) + "#key-0",
		"did:polity:" + strings.ToUpper(a.String()) + "#key-0", strings.Replace(did, "#key-0", "#key-1", 1),
		KeyDID(edSuite, testKey(t, edSuite, 1).Public().Bytes())} {
		if isKeyDID(bad, a) {
			t.Errorf("accepted %q", bad)
		}
	}
}
