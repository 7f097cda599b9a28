package chain

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
)

var (
	edSuite = ed25519sha256.New()
	smSuite = sm2sm3.New()
	// bothSuites lists every suite, for tests that must hold for each.
	bothSuites = []crypto.Suite{edSuite, smSuite}
)

const testChain = "gov"

// testKey derives a fixed key for index i in suite s.
func testKey(t testing.TB, s crypto.Suite, i int) crypto.PrivateKey {
	t.Helper()
	seed := sha256.Sum256(fmt.Appendf(nil, "polity chain test key %s %d", s.Name(), i))
	k, err := s.PrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testKeys(t testing.TB, s crypto.Suite, n int) []crypto.PrivateKey {
	t.Helper()
	keys := make([]crypto.PrivateKey, n)
	for i := range keys {
		keys[i] = testKey(t, s, i)
	}
	return keys
}

// testValidators is the set of keys, with IDs val-0, val-1, ...
func testValidators(keys []crypto.PrivateKey) *ValidatorSet {
	vs := &ValidatorSet{}
	for i, k := range keys {
		vs.Validators = append(vs.Validators, Validator{ID: fmt.Sprintf("val-%d", i), PubKey: k.Public().Bytes()})
	}
	return vs
}

// testTx is a signed transaction from k.
func testTx(t testing.TB, s crypto.Suite, k crypto.PrivateKey, nonce uint64) *Tx {
	t.Helper()
	tx := &Tx{
		ChainID: testChain,
		Nonce:   nonce,
		Module:  "records",
		Method:  "put",
		Args:    fmt.Appendf(nil, `{"key":"k%d","value":"v"}`, nonce),
		Expiry:  1000 + nonce,
	}
	if err := tx.Sign(s, k); err != nil {
		t.Fatal(err)
	}
	return tx
}

// testHeader is a header over txs naming vs.
func testHeader(s crypto.Suite, vs *ValidatorSet, txs []*Tx) *Header {
	b := &Block{Txs: txs}
	return &Header{
		ChainID:        testChain,
		Height:         7,
		Time:           1_700_000_000_123,
		Parent:         s.Hash([]byte("parent")),
		Proposer:       "val-0",
		TxRoot:         TxRoot(s, b.TxIDs(s)),
		TxCount:        uint64(len(txs)),
		StateRoot:      s.Hash([]byte("state")),
		ReceiptsRoot:   s.Hash([]byte("receipts")),
		ValidatorsHash: vs.Hash(s),
	}
}

// signCommit returns the certificate of h signed by keys[i] for each i in idx.
func signCommit(t testing.TB, s crypto.Suite, h *Header, keys []crypto.PrivateKey, idx ...int) *Commit {
	t.Helper()
	msg := CommitMessage(h.ChainID, h.Height, h.Hash(s))
	c := &Commit{}
	for _, i := range idx {
		sig, err := keys[i].Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		c.Sigs = append(c.Sigs, CommitSig{Index: uint32(i), Sig: sig})
	}
	return c
}

// testBlock is a certified block of n transactions signed by 3 of 4 validators.
func testBlock(t testing.TB, s crypto.Suite, n int) (*Block, *ValidatorSet, []crypto.PrivateKey) {
	t.Helper()
	keys := testKeys(t, s, 4)
	vs := testValidators(keys)
	var txs []*Tx
	for i := 0; i < n; i++ {
		txs = append(txs, testTx(t, s, keys[i%len(keys)], uint64(i)))
	}
	h := testHeader(s, vs, txs)
	return &Block{Header: *h, Txs: txs, Commit: *signCommit(t, s, h, keys, 0, 1, 3)}, vs, keys
}

func testReceipt(s crypto.Suite) *Receipt {
	return &Receipt{
		TxID:     s.Hash([]byte("tx")),
		Status:   StatusFailed,
		Error:    "records: key exists",
		WorkUsed: 12345,
		Events: []Event{
			{Type: "records.put", Attrs: []Attr{{Key: "key", Value: "k1"}, {Key: "owner", Value: "did:polity:ab#key-0"}}},
			{Type: "empty"},
		},
	}
}

// mustFailPrefixes checks decode rejects every proper prefix of enc (for a
// long enc, those near either end and a sample between) and enc followed by
// any extra byte.
func mustFailPrefixes(t *testing.T, enc []byte, decode func([]byte) error) {
	t.Helper()
	for i := 0; i < len(enc); i++ {
		if len(enc) > 2048 && i >= 512 && i < len(enc)-512 && i%61 != 0 {
			continue
		}
		if err := decode(enc[:i:i]); err == nil {
			t.Fatalf("accepted a %d-byte prefix of %d bytes", i, len(enc))
		}
	}
	for _, b := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff} {
		if err := decode(append(bytes.Clone(enc), b)); err == nil {
			t.Fatalf("accepted trailing byte %#x", b)
		}
	}
	if err := decode(enc); err != nil {
		t.Fatalf("rejected the full encoding: %v", err)
	}
}
