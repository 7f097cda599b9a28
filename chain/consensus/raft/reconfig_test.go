package raft

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/valset"
)

// govTx is validator i's valset transaction with the given nonce.
func govTx(t *testing.T, c *cluster, i int, nonce uint64, method string, args any) *chain.Tx {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	tx := &chain.Tx{ChainID: c.Genesis.ChainID, Nonce: nonce, Module: valset.Name, Method: method, Args: raw}
	if err := tx.Sign(c.Suite, c.Key(i)); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestRaftClusterStopsAtItsSetsEnd: once a committed block changes the
// validator set, the old set's cluster certifies nothing more (the next
// heights are the new set's, ordered by its own cluster): its leader
// proposes nothing and every node skips later entries, so no block above
// the change carries the old set's certificate.
func TestRaftClusterStopsAtItsSetsEnd(t *testing.T) {
	c := newClusterGov(t, 3, seed(t, 41), nil, true)
	probe, err := c.Suite.GenerateKey(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v4", PubKey: hex.EncodeToString(probe.Public().Bytes()), Addr: "sim:4"}
	c.WaitCommitted(c.Submit(0, govTx(t, c, 0, 0, "propose", add)), 30*time.Second)
	var prop string
	for _, a := range lastEvent(t, c).Attrs {
		if a.Key == "proposal" {
			prop = a.Value
		}
	}
	c.WaitCommitted(c.Submit(1, govTx(t, c, 1, 0, "vote", valset.VoteArgs{Proposal: prop})), 30*time.Second)
	changed := c.Nodes[0].Rep.Head().Height
	for _, m := range c.Nodes {
		if vs, _ := m.Rep.NextValidators(); len(vs.Validators) != 4 {
			t.Fatalf("node %d: %d validators after the change", m.ID, len(vs.Validators))
		}
	}
	// The old cluster still runs (no runner stops it here) and is sent
	// work; none of it may commit.
	cl := c.NewClient()
	id := c.Submit(0, cl.Tx("after"))
	c.AssertStalled(c.Heights(), id, 2*time.Second)
	if h := c.Nodes[0].Rep.Head().Height; h != changed {
		t.Fatalf("the old set's cluster committed up to %d past its end at %d", h, changed)
	}
}

// lastEvent returns the last event of node 1's last committed block's
// last receipt.
func lastEvent(t *testing.T, c *cluster) chain.Event {
	t.Helper()
	led := c.Nodes[0].Rep.Ledger()
	rcs, err := led.Receipts(led.Height())
	if err != nil || len(rcs) == 0 || len(rcs[len(rcs)-1].Events) == 0 {
		t.Fatalf("no receipt event at %d: %v", led.Height(), err)
	}
	ev := rcs[len(rcs)-1].Events
	return ev[len(ev)-1]
}

// TestRaftProposalPastTheLedgerStopsBehind: a log entry whose block is
// more than one height past the ledger (the blocks between are missing)
// stops the engine with a consensus.BehindError naming the blocks to fetch,
// not a failure: the runner fetches them and starts an engine again.
func TestRaftProposalPastTheLedgerStopsBehind(t *testing.T) {
	c := newCluster(t, 3, seed(t, 43), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	rep := c.Nodes[0].Rep
	head := rep.Head().Height
	b, err := rep.Block(head)
	if err != nil {
		t.Fatal(err)
	}
	far := *b
	far.Header.Height, far.Commit = head+3, chain.Commit{}
	cfg := testConfig()
	cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = c.Genesis.ChainID, rep, c.Suite, c.Key(0)
	cfg.Validators, cfg.SelfID = c.Genesis.Validators, c.Genesis.Validators.Validators[0].ID
	cfg.Net, cfg.Dir = c.Net.Endpoint(99), filepath.Join(t.TempDir(), "raft")
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := e.fsm.Apply(&hraft.Log{Type: hraft.LogCommand, Data: encodeProposal(&far)}).(applied)
	var be *consensus.BehindError
	if !errors.As(a.skipped, &be) || be.Height != head+2 || be.Head != head {
		t.Fatalf("applying a proposal for %d at head %d: %v", head+3, head, a.skipped)
	}
	<-e.failed
	if !errors.As(e.fatal, &be) {
		t.Fatalf("engine stopped with %v", e.fatal)
	}
	if rep.Head().Height != head {
		t.Fatal("the ledger moved")
	}
}
