package smartbft

import (
	crand "crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// TestDecodedCache: a request decodes to the same fields as chain.DecodeTx,
// a second decode of equal bytes (another buffer) returns the same Tx, the
// cached Tx does not change when the caller's buffer does, bad bytes fail
// as they would uncached, and requests over the size bound are decoded
// afresh each time.
func TestDecodedCache(t *testing.T) {
	s := ed25519sha256.New()
	k, err := s.GenerateKey(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(args string) []byte {
		tx := &chain.Tx{ChainID: "c", Nonce: 7, Module: "m", Method: "f", Args: []byte(args)}
		if err := tx.Sign(s, k); err != nil {
			t.Fatal(err)
		}
		return tx.Encode()
	}
	d := newDecoded(s)
	raw := signed(`{"a":1}`)
	first, err := d.tx(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := chain.DecodeTx(append([]byte(nil), raw...))
	if string(first.Encode()) != string(want.Encode()) || first.ID(s) != want.ID(s) {
		t.Fatal("cached decode differs from chain.DecodeTx")
	}
	again, err := d.tx(append([]byte(nil), raw...))
	if err != nil || again != first {
		t.Fatalf("second decode of equal bytes: %p, %v; want the cached %p", again, err, first)
	}
	for i := range raw {
		raw[i] ^= 0xff
	}
	if string(first.Encode()) != string(want.Encode()) {
		t.Fatal("cached Tx changed with the caller's buffer")
	}
	if _, err := d.tx(raw); !errors.Is(err, chain.ErrTxMalformed) {
		t.Fatalf("mangled bytes: %v, want ErrTxMalformed", err)
	}
	big := signed(strings.Repeat("x", decodedMaxBytes))
	b1, err1 := d.tx(big)
	b2, err2 := d.tx(big)
	if err1 != nil || err2 != nil || b1 == b2 || b1.ID(s) != b2.ID(s) {
		t.Fatalf("oversized request: %v %v, same Tx %v", err1, err2, b1 == b2)
	}
}

// TestLastPayload: the last payload's transactions come back for equal
// bytes (in a slice of their own), not for other bytes, and not after the
// caller's buffer changed.
func TestLastPayload(t *testing.T) {
	d := newDecoded(ed25519sha256.New())
	txs := []*chain.Tx{{Nonce: 1}, {Nonce: 2}}
	payload := []byte("payload")
	d.setLastPayload(payload, txs)
	got, ok := d.lastPayload([]byte("payload"))
	if !ok || len(got) != 2 || got[0] != txs[0] || got[1] != txs[1] {
		t.Fatalf("equal payload: %v, %v", got, ok)
	}
	got[0] = nil
	if again, _ := d.lastPayload(payload); again[0] != txs[0] {
		t.Fatal("a caller's change to the returned slice reached the kept one")
	}
	if _, ok := d.lastPayload([]byte("other")); ok {
		t.Fatal("other bytes matched")
	}
	payload[0] = 'P'
	if _, ok := d.lastPayload(payload); ok {
		t.Fatal("changed bytes matched: the kept copy aliases the caller's buffer")
	}
}
