package smartbft

import (
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
