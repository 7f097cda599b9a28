package smartbft

import (
	"testing"
	"time"
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
