package simnet

import (
	"errors"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
)

// Check is the safety checker: no two running nodes hold different blocks
// at any common height (header hashes, hence state roots, agree), every
// block's certificate verifies with the validator set its header names
// (the genesis set until the valset module changes it), and every
// acknowledged transaction is in exactly one block. Blocks a ledger
// pruned are skipped (a pruned acknowledged transaction must be indexed
// below the base).
func (c *Cluster[E]) Check() {
	c.T.Helper()
	var ref *Member[E]
	for _, m := range c.Nodes {
		if m != nil && (ref == nil || m.Rep.Ledger().Height() > ref.Rep.Ledger().Height()) {
			ref = m
		}
	}
	if ref == nil {
		return
	}
	led := ref.Rep.Ledger()
	seen := map[crypto.Hash]uint64{}
	for h := max(1, led.Base()); h <= led.Height(); h++ {
		b, err := led.Block(h)
		if err != nil {
			c.T.Fatalf("node %d block %d: %v", ref.ID, h, err)
		}
		vs, err := led.ValidatorSet(b.Header.ValidatorsHash)
		if err != nil {
			c.T.Fatalf("block %d names validator set %s: %v", h, b.Header.ValidatorsHash, err)
		}
		if err := chain.VerifyCommit(c.Suite, vs, &b.Header, &b.Commit); err != nil {
			c.T.Fatalf("block %d certificate: %v", h, err)
		}
		for _, id := range b.TxIDs(c.Suite) {
			if prev, dup := seen[id]; dup {
				c.T.Fatalf("tx %s in blocks %d and %d", id, prev, h)
			}
			seen[id] = h
		}
		for _, m := range c.Nodes {
			if m == nil || m == ref || m.Rep.Ledger().Height() < h {
				continue
			}
			o, _, err := m.Rep.Ledger().Header(h)
			if errors.Is(err, ledger.ErrBlockPruned) {
				continue
			}
			if err != nil {
				c.T.Fatalf("node %d header %d: %v", m.ID, h, err)
			}
			if o.Hash(c.Suite) != b.Header.Hash(c.Suite) || o.StateRoot != b.Header.StateRoot {
				c.T.Fatalf("fork at height %d between nodes %d and %d", h, ref.ID, m.ID)
			}
		}
	}
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	for id := range c.acked {
		if at, _, err := led.TxLocation(id); err == nil && at < led.Base() {
			continue
		}
		if _, ok := seen[id]; !ok {
			c.T.Fatalf("acknowledged tx %s is in no block of node %d (height %d)", id, ref.ID, led.Height())
		}
	}
}
