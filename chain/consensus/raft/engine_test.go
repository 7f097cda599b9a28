package raft

import (
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

func TestRaftOrdersAndCertifies(t *testing.T) {
	c := newCluster(t, 4, seed(t, 1), nil)
	cl := newClient(c.suite)
	var last crypto.Hash
	for i := 0; i < 50; i++ {
		last = c.submit(i%4, cl.tx(fmt.Sprintf("r%d", i)))
	}
	c.waitCommitted(last, 30*time.Second)
	c.check()
	// Certificates hold a majority (3 of 4 here), and no engine metadata,
	// so proof bundles carry them as they are.
	led := c.nodes[0].rep.Ledger()
	for h := uint64(1); h <= led.Height(); h++ {
		_, cm, err := led.Header(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(cm.Sigs) < c.genesis.Validators.Quorum() || len(cm.Meta) != 0 {
			t.Fatalf("block %d: %d signatures, %d meta bytes", h, len(cm.Sigs), len(cm.Meta))
		}
	}
}

func TestRaftFiveValidatorsMajorityCertificates(t *testing.T) {
	c := newCluster(t, 5, seed(t, 2), nil)
	cl := newClient(c.suite)
	c.waitCommitted(c.submit(0, cl.tx("a")), 30*time.Second)
	// Two of five down: Raft keeps a majority, and so do certificates
	// (3 of 5 under the crash-fault-only rule; the BFT rule would need 4).
	lead := c.leader(10 * time.Second)
	var down []int
	for i := 0; i < 5 && len(down) < 2; i++ {
		if i != lead {
			down = append(down, i)
		}
	}
	for _, i := range down {
		c.stop(i)
	}
	c.waitCommitted(c.submit(lead, cl.tx("b")), 30*time.Second)
	c.check()
	if q := c.genesis.Validators.Quorum(); q != 3 {
		t.Fatalf("quorum %d", q)
	}
}
