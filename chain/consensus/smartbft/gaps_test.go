package smartbft

import (
	crand "crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

// TestBFTNonceGapHeld: a transaction whose sender's previous nonce is
// missing waits outside SmartBFT's pool: no node commits anything for it
// (before, the leader proposed empty blocks for as long as it waited). Its
// predecessor, sent to another node, lets both commit.
func TestBFTNonceGapHeld(t *testing.T) {
	c := newCluster(t, 4, seed(t, 19))
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("first")), 30*time.Second)
	one, two := cl.Tx("one"), cl.Tx("two")
	id2 := c.Submit(2, two)
	c.AssertStalled(c.Heights(), id2, 2*time.Second)
	id1 := c.Submit(1, one)
	c.WaitCommitted(id1, healBound)
	c.WaitCommitted(id2, healBound)
	c.Check()
}

// TestGaps: the hold's bookkeeping on its own: a run passes as it becomes
// contiguous, by arrival or by a commit; stale and duplicate nonces pass
// through; held nonces a commit passed are forgotten.
func TestGaps(t *testing.T) {
	s := ed25519sha256.New()
	k, err := s.GenerateKey(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	committed := uint64(0)
	g := newGaps(s, func(chain.Address) (uint64, error) { return committed, nil })
	tx := func(n uint64) *chain.Tx {
		tx := &chain.Tx{ChainID: "c", Nonce: n, Module: "m", Method: "f"}
		if err := tx.Sign(s, k); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	admit := func(n uint64) []string {
		var out []string
		for _, raw := range g.admit(tx(n), []byte(fmt.Sprint(n))) {
			out = append(out, string(raw))
		}
		return out
	}
	want := func(what string, got []string, w ...string) {
		t.Helper()
		if !slices.Equal(got, w) {
			t.Fatalf("%s: %v, want %v", what, got, w)
		}
	}
	want("nonce 2 before 0 and 1", admit(2))
	want("nonce 3", admit(3))
	want("nonce 0", admit(0), "0")
	want("nonce 1 fills the gap", admit(1), "1", "2", "3")
	want("nonce 1 again", admit(1), "1")
	want("nonce 5", admit(5))
	want("nonce 7", admit(7))
	// A block commits up to nonce 4 (a 4 from elsewhere): 5 is contiguous.
	committed = 5
	var got []string
	for _, raw := range g.committedBlock([]*chain.Tx{tx(4)}) {
		got = append(got, string(raw))
	}
	want("after the commit", got, "5")
	committed = 9 // 7 and 8 committed elsewhere
	want("after a commit past the held", func() []string {
		var out []string
		for _, raw := range g.committedBlock([]*chain.Tx{tx(8)}) {
			out = append(out, string(raw))
		}
		return out
	}())
	if g.count != 0 || g.bytes != 0 {
		t.Fatalf("%d transactions (%d bytes) still held", g.count, g.bytes)
	}
}

// TestGapsByteBound: held transactions are bounded in bytes as well as in
// number; what the bound refuses is not held, and what is released or
// committed frees its bytes.
func TestGapsByteBound(t *testing.T) {
	s := ed25519sha256.New()
	committed := map[chain.Address]uint64{}
	g := newGaps(s, func(a chain.Address) (uint64, error) { return committed[a], nil })
	// 40 KiB each: all of sender 0's fit, sender 1 reaches the bound.
	args := []byte(`"` + strings.Repeat("x", 40<<10) + `"`)
	var senders []crypto.PrivateKey
	for range 2 {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, k)
	}
	tx := func(k crypto.PrivateKey, n uint64) (*chain.Tx, []byte) {
		tx := &chain.Tx{ChainID: "c", Nonce: n, Module: "m", Method: "f", Args: args}
		if err := tx.Sign(s, k); err != nil {
			t.Fatal(err)
		}
		return tx, tx.Encode()
	}
	refused := 0
	for _, k := range senders { // nonces 1..maxHeldPerSender-1 wait for nonce 0
		for n := uint64(1); n < maxHeldPerSender; n++ {
			tx, raw := tx(k, n)
			before := g.count
			if out := g.admit(tx, raw); out != nil {
				t.Fatalf("nonce %d passed the gap", n)
			}
			if g.count == before {
				refused++
			}
		}
	}
	if g.bytes > maxHeldBytes || refused == 0 {
		t.Fatalf("held %d transactions, %d bytes (bound %d), refused %d", g.count, g.bytes, maxHeldBytes, refused)
	}
	t.Logf("held %d transactions, %d bytes; refused %d", g.count, g.bytes, refused)
	// Sender 0's nonce 0 releases its whole run; a commit for sender 1
	// past everything held forgets the rest.
	tx0, raw0 := tx(senders[0], 0)
	if out := g.admit(tx0, raw0); len(out) != maxHeldPerSender {
		t.Fatalf("nonce 0 released %d transactions, want %d", len(out), maxHeldPerSender)
	}
	a1 := chain.AddressOf(s, senders[1].Public().Bytes())
	committed[a1] = maxHeldPerSender
	last, _ := tx(senders[1], maxHeldPerSender-1)
	g.committedBlock([]*chain.Tx{last})
	if g.count != 0 || g.bytes != 0 {
		t.Fatalf("%d transactions (%d bytes) still held", g.count, g.bytes)
	}
}
