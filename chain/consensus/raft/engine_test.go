package raft

import (
	"testing"
	"time"
)

func TestRaftOrdersAndCertifies(t *testing.T) {
	c := newCluster(t, 4, seed(t, 1), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.SubmitSpread(cl, 50, "r"), 30*time.Second)
	c.Check()
	// Certificates hold a majority (3 of 4 here), and no engine metadata,
	// so proof bundles carry them as they are.
	led := c.Nodes[0].Rep.Ledger()
	for h := uint64(1); h <= led.Height(); h++ {
		_, cm, err := led.Header(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(cm.Sigs) < c.Genesis.Validators.Quorum() || len(cm.Meta) != 0 {
			t.Fatalf("block %d: %d signatures, %d meta bytes", h, len(cm.Sigs), len(cm.Meta))
		}
	}
}

func TestRaftFiveValidatorsMajorityCertificates(t *testing.T) {
	c := newCluster(t, 5, seed(t, 2), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	// Two of five down: Raft keeps a majority, and so do certificates
	// (3 of 5 under the crash-fault-only rule; the BFT rule would need 4).
	lead := leader(c, 10*time.Second)
	var down []int
	for i := 0; i < 5 && len(down) < 2; i++ {
		if i != lead {
			down = append(down, i)
		}
	}
	for _, i := range down {
		c.Stop(i)
	}
	c.WaitCommitted(c.Submit(lead, cl.Tx("b")), 30*time.Second)
	c.Check()
	if q := c.Genesis.Validators.Quorum(); q != 3 {
		t.Fatalf("quorum %d", q)
	}
}
