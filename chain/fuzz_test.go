package chain

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// Each decoder fuzz target seeds its corpus with valid encodings and checks
// that decoding never panics and that every accepted input is canonical:
// encoding the decoded value gives the input back, byte for byte.

func seedTxs(f *testing.F) [][]byte {
	var out [][]byte
	for _, s := range bothSuites {
		out = append(out, testTx(f, s, testKey(f, s, 0), 5).Encode())
	}
	out = append(out, (&Tx{}).Encode(), (&Tx{ChainID: "a", Nonce: 1 << 40, Args: []byte{0}}).Encode())
	return out
}

func FuzzDecodeTx(f *testing.F) {
	for _, b := range seedTxs(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := DecodeTx(data)
		if err != nil {
			return
		}
		if enc := tx.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
		_ = tx.Verify(edSuite) // must not panic on any decoded tx
		_ = tx.Verify(smSuite)
	})
}

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range bothSuites {
		b, _, _ := testBlock(f, s, 2)
		f.Add(b.Header.Encode())
	}
	f.Add((&Header{}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeader(data)
		if err != nil {
			return
		}
		if enc := h.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
	})
}

func FuzzDecodeBlock(f *testing.F) {
	for _, s := range bothSuites {
		for _, n := range []int{0, 1, 3} {
			b, _, _ := testBlock(f, s, n)
			f.Add(b.Encode())
		}
	}
	f.Add((&Block{}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			return
		}
		if enc := b.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
		if uint64(len(b.Txs)) != b.Header.TxCount {
			t.Fatalf("%d txs, header says %d", len(b.Txs), b.Header.TxCount)
		}
		for i := 1; i < len(b.Commit.Sigs); i++ {
			if b.Commit.Sigs[i].Index <= b.Commit.Sigs[i-1].Index {
				t.Fatalf("commit indices not increasing: %+v", b.Commit.Sigs)
			}
		}
	})
}

func FuzzDecodeReceipt(f *testing.F) {
	f.Add(testReceipt(edSuite).Encode())
	f.Add(testReceipt(smSuite).Encode())
	f.Add((&Receipt{}).Encode())
	f.Add((&Receipt{Status: StatusFailed, Events: []Event{{Type: "a", Attrs: []Attr{{Key: "k", Value: "é"}}}}}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := DecodeReceipt(data)
		if err != nil {
			return
		}
		if enc := rc.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
	})
}

func FuzzDecodeValidatorSet(f *testing.F) {
	for _, s := range bothSuites {
		f.Add(testValidators(testKeys(f, s, 4)).Encode())
	}
	f.Add((&ValidatorSet{}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := DecodeValidatorSet(data)
		if err != nil {
			return
		}
		if enc := vs.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
		_ = vs.Validate(edSuite)
		_ = vs.Validate(smSuite)
		_ = vs.Quorum()
	})
}

func FuzzDecodeCommit(f *testing.F) {
	for _, s := range bothSuites {
		b, _, _ := testBlock(f, s, 1)
		f.Add(b.Commit.Encode())
	}
	f.Add((&Commit{}).Encode())
	f.Add((&Commit{Sigs: []CommitSig{{Index: 0}, {Index: 200, Sig: []byte{1}}}}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommit(data)
		if err != nil {
			return
		}
		if enc := c.Encode(); !bytes.Equal(enc, data) {
			t.Fatalf("not canonical: %x re-encodes as %x", data, enc)
		}
	})
}

func FuzzDecodeGenesis(f *testing.F) {
	for _, s := range bothSuites {
		f.Add(testGenesis(f, s, 4).Encode())
	}
	f.Add([]byte(`{"chain_id":"dept-a","kind":"department","parent":"gov","suite":"sm2-sm3","consensus":"solo","time":0,"validator_set":{"validators":null},"modules":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := DecodeGenesis(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted input that is not one JSON value: %q", data)
		}
		_ = g.Validate(edSuite)
		_ = g.Validate(smSuite)
		enc := g.Encode()
		again, err := DecodeGenesis(enc)
		if err != nil {
			t.Fatalf("cannot decode the encoding of an accepted genesis: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(again, g) {
			t.Fatalf("re-decoded %+v, want %+v", again, g)
		}
		if !bytes.Equal(again.Encode(), enc) {
			t.Fatal("encoding not stable")
		}
	})
}
