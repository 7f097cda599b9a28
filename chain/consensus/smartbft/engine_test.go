package smartbft

import (
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

func TestBFTOrdersAndCertifies(t *testing.T) {
	c := newCluster(t, 4, 1)
	cl := c.NewClient()
	c.WaitCommitted(c.SubmitSpread(cl, 50, "r"), 30*time.Second)
	c.Check()
	// Every block's certificate verifies with the validator set alone.
	led := c.Nodes[0].Rep.Ledger()
	for h := uint64(1); h <= led.Height(); h++ {
		hdr, cm, err := led.Header(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.VerifyCommit(c.Suite, &c.Genesis.Validators, hdr, cm); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
	}
}

func TestBFTFollowerCrashCatchesUp(t *testing.T) {
	c := newCluster(t, 4, 2)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	c.Stop(3)
	var last crypto.Hash
	for i := 0; i < 20; i++ {
		last = c.Submit(0, cl.Tx(fmt.Sprintf("b%d", i)))
	}
	c.WaitCommitted(last, 30*time.Second)
	c.Start(3)
	c.WaitCommitted(last, 30*time.Second) // node 4 syncs the blocks it missed
	// A decision made while node 4 was starting reaches it with the next
	// proposal (SmartBFT syncs a follower that sees a later sequence).
	for i := 0; i < 5; i++ {
		last = c.Submit(i%4, cl.Tx(fmt.Sprintf("c%d", i)))
		c.WaitCommitted(last, 30*time.Second)
	}
	c.Check()
}

func TestBFTLeaderCrashViewChange(t *testing.T) {
	c := newCluster(t, 4, 3)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(1, cl.Tx("a")), 30*time.Second)
	lead := c.Nodes[1].Eng.consensus().GetLeaderID()
	c.Stop(int(lead - 1))
	other := int(lead) % 4 // a running node
	start := time.Now()
	c.WaitCommitted(c.Submit(other, cl.Tx("b")), 60*time.Second)
	t.Logf("leader %d crashed; commit resumed after %v", lead, time.Since(start))
	c.Check()
}

// TestBFTSubmitTxTwice: the watchdog may hand SmartBFT a transaction it
// already holds; that is no error, and the transaction commits once.
func TestBFTSubmitTxTwice(t *testing.T) {
	c := newCluster(t, 4, 4)
	cl := c.NewClient()
	tx := cl.Tx("twice")
	id := c.Submit(1, tx)
	if err := c.Nodes[1].Eng.SubmitTx(tx.Encode()); err != nil {
		t.Fatalf("second submission: %v", err)
	}
	c.WaitCommitted(id, 30*time.Second)
	c.Check()
}
