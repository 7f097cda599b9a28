package smartbft

import (
	"log/slog"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
)

// TestBFTForwardedChecked: forwarded transactions are checked as a batch: a
// bad signature, another chain's transaction and undecodable bytes are
// refused, the valid ones of the same batch reach the pool, and they commit.
func TestBFTForwardedChecked(t *testing.T) {
	c := newCluster(t, 4, seed(t, 24))
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("warmup")), 30*time.Second)
	// A follower: its pool keeps what it admits until SmartBFT forwards it
	// to the leader (RequestForwardTimeout) and the block commits.
	lead := c.Nodes[0].Eng.consensus().GetLeaderID()
	f := int(lead) % 4
	e := c.Nodes[f].Eng
	pool := e.consensus().Pool

	good1, good2 := cl.Tx("f1"), cl.Tx("f2")
	bad := cl.Tx("bad sig")
	bad.Sig = append([]byte(nil), bad.Sig...)
	bad.Sig[0] ^= 1
	other := &chain.Tx{ChainID: "another-chain", Module: good1.Module, Method: good1.Method, Args: good1.Args}
	if err := other.Sign(c.Suite, c.Key(0)); err != nil {
		t.Fatal(err)
	}
	before := pool.Size()
	e.admitForwarded([][]byte{good1.Encode(), bad.Encode(), other.Encode(), []byte("junk"), good2.Encode()})
	if got := pool.Size() - before; got != 2 {
		t.Fatalf("pool grew by %d, want 2 (the two valid transactions)", got)
	}
	c.WaitCommitted(good2.ID(c.Suite), 30*time.Second)
	c.Check()
}

// TestForwardQueueBounded: the queue of forwarded transactions holds at
// most forwardQueueBytes (and forwardQueue entries); oversized ones are not
// queued at all, and taking one off frees its bytes.
func TestForwardQueueBounded(t *testing.T) {
	e := &Engine{log: slog.New(slog.DiscardHandler), forwarded: make(chan []byte, forwardQueue)}
	e.queueForwarded(make([]byte, chain.MaxTxSize+1))
	if len(e.forwarded) != 0 {
		t.Fatal("an oversized transaction was queued")
	}
	big := make([]byte, chain.MaxTxSize)
	for i := 0; i < 2*forwardQueueBytes/len(big); i++ {
		e.queueForwarded(big)
	}
	if n, want := len(e.forwarded), forwardQueueBytes/len(big); n != want {
		t.Fatalf("%d large transactions queued, want %d", n, want)
	}
	if b := e.forwardedBytes.Load(); b > forwardQueueBytes {
		t.Fatalf("%d bytes queued, bound %d", b, forwardQueueBytes)
	}
	e.nextForwarded(<-e.forwarded)
	e.queueForwarded(big)
	if n, want := len(e.forwarded), forwardQueueBytes/len(big); n != want {
		t.Fatalf("after taking one off, %d queued, want %d", n, want)
	}
	for len(e.forwarded) > 0 {
		e.nextForwarded(<-e.forwarded)
	}
	if b := e.forwardedBytes.Load(); b != 0 {
		t.Fatalf("%d bytes counted with the queue empty", b)
	}
	small := []byte("x")
	for i := 0; i < 2*forwardQueue; i++ {
		e.queueForwarded(small)
	}
	if n := len(e.forwarded); n != forwardQueue {
		t.Fatalf("%d queued, want the count bound %d", n, forwardQueue)
	}
}
