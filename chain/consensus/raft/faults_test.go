package raft

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
)

// healBound is the recovery bound asserted after each fault ends: from the
// moment the fault is removed until a new transaction is committed on
// every running node. Measured on a shared 2-core machine with the test
// timing (testConfig: 150 ms heartbeat, 300 ms election, 300 ms RPC
// timeout), recoveries take well under 2 s (the tests log each one); the
// bound leaves room for a loaded CI machine.
const healBound = 10 * time.Second

func TestRaftFollowerCrashCatchesUp(t *testing.T) {
	c := newCluster(t, 4, seed(t, 21), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	lead := leader(c, 10*time.Second)
	f := (lead + 1) % 4
	c.Stop(f) // SIGKILL-like: no more messages, disk kept
	var last crypto.Hash
	for i := 0; i < 20; i++ {
		last = c.Submit(lead, cl.Tx(fmt.Sprintf("b%d", i)))
	}
	c.WaitCommitted(last, 30*time.Second)
	restarted := time.Now()
	c.Start(f)
	c.WaitCommitted(last, healBound) // the restarted follower caught up
	t.Logf("follower %d restarted; caught up after %v", f+1, time.Since(restarted))
	last = c.Submit(f, cl.Tx("after"))
	c.WaitCommitted(last, healBound)
	t.Logf("follower %d: its own new transaction committed %v after restart", f+1, time.Since(restarted))
	c.Check()
}

// TestRaftRestartWithPrunedLedger: a node whose ledger keeps fewer blocks
// than its Raft log spans restarts from a Raft snapshot whose block it has
// pruned (hashicorp/raft refuses to start when restoring every snapshot
// fails).
func TestRaftRestartWithPrunedLedger(t *testing.T) {
	c := newClusterWith(t, 3, seed(t, 24), func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.SnapshotInterval = 1<<30, time.Hour // snapshots only when asked
	}, false, ledger.Options{RetainBlocks: ledger.MinRetainBlocks})
	cl := c.NewClient()
	commit := func(n int, label string) {
		for i := 0; i < n; i++ { // one block each
			c.WaitCommitted(c.Submit(i%3, cl.Tx(fmt.Sprintf("%s%d", label, i))), 30*time.Second)
		}
	}
	commit(4, "a")
	f := (leader(c, 10*time.Second) + 1) % 3
	if err := c.Nodes[f].Eng.r.Load().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snapAt := c.Nodes[f].Rep.Head().Height
	commit(2*ledger.MinRetainBlocks, "b")
	if base := c.Nodes[f].Rep.Base(); base <= snapAt {
		t.Fatalf("node %d: base %d, want above the snapshot's height %d", f+1, base, snapAt)
	}
	c.Stop(f)
	c.Start(f)
	c.WaitCommitted(c.Submit(f, cl.Tx("after")), healBound)
	c.Check()
}

func TestRaftLeaderCrashElectsNewLeader(t *testing.T) {
	c := newCluster(t, 4, seed(t, 22), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	lead := leader(c, 10*time.Second)
	c.Stop(lead)
	crashed := time.Now()
	other := (lead + 1) % 4
	c.WaitCommitted(c.Submit(other, cl.Tx("b")), healBound)
	t.Logf("leader %d crashed; commits resumed after %v", lead+1, time.Since(crashed))
	if n := leader(c, healBound); n == lead {
		t.Fatal("the crashed node still leads")
	}
	// The old leader restarts as a follower and catches up.
	c.Start(lead)
	c.WaitCommitted(c.Submit(lead, cl.Tx("c")), healBound)
	c.Check()
}

// TestRaftIsolatedNodeRejoins isolates a node while the others commit
// enough blocks for the leader to compact its log, so on healing the node
// is sent a snapshot: the FSM restores it by fetching the missing blocks
// from peers (certificates checked, blocks re-executed).
func TestRaftIsolatedNodeRejoins(t *testing.T) {
	c := newCluster(t, 4, seed(t, 23), func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 8, 4, 100*time.Millisecond
	})
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	lead := leader(c, 10*time.Second)
	iso := uint64((lead+2)%4) + 1
	others := []uint64{}
	for n := uint64(1); n <= 4; n++ {
		if n != iso {
			others = append(others, n)
		}
	}
	c.Net.Split([]uint64{iso}, others, true)
	var last crypto.Hash
	for i := 0; i < 30; i++ {
		last = c.Submit(lead, cl.Tx(fmt.Sprintf("r%d", i)))
		if i%3 == 2 { // many small blocks: many log entries
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, _, err := c.Nodes[lead].Rep.WaitTx(ctx, last); err != nil {
				t.Fatalf("majority side: %v", err)
			}
			cancel()
		}
	}
	behind := c.Nodes[iso-1].Rep.Ledger().Height()
	healed := time.Now()
	c.Net.Split([]uint64{iso}, others, false)
	c.WaitCommitted(last, healBound)
	t.Logf("isolation of node %d healed; it caught up from height %d after %v", iso, behind, time.Since(healed))
	if n := c.Nodes[iso-1].Eng.syncer.Fetched(); n == 0 {
		t.Fatal("the isolated node caught up without a snapshot: compaction did not happen")
	} else {
		t.Logf("node %d restored a snapshot and fetched %d blocks from peers", iso, n)
	}
	c.WaitCommitted(c.Submit(int(iso-1), cl.Tx("after")), healBound)
	c.Check()
}

func TestRaftSplitHaltsWithoutFork(t *testing.T) {
	c := newCluster(t, 4, seed(t, 24), nil)
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("before")), 30*time.Second)
	before := c.Heights()
	c.Net.Split([]uint64{1, 2}, []uint64{3, 4}, true)
	// Neither half has a majority (3 of 4): nothing may commit.
	id := c.Submit(0, cl.Tx("during"))
	id2 := c.Submit(3, c.NewClient().Tx("during-other-side"))
	c.AssertStalled(before, id, 2*time.Second)
	c.Check()
	healed := time.Now()
	c.Net.Split([]uint64{1, 2}, []uint64{3, 4}, false)
	c.WaitCommitted(id, healBound)
	c.WaitCommitted(id2, healBound)
	t.Logf("split healed; commits resumed after %v", time.Since(healed))
	c.Check()
}

// TestRaftColdRestartUnderLoad stops every node while transactions are in
// flight and starts them all again with their data: what was acknowledged
// survives exactly once, what was in flight is committed at most once, and
// the chain goes on.
func TestRaftColdRestartUnderLoad(t *testing.T) {
	c := newCluster(t, 4, seed(t, 25), nil)
	var acked, inflight []crypto.Hash
	for k := 0; k < 4; k++ {
		cl := c.NewClient()
		for i := 0; i < 25; i++ {
			id := c.Submit((k+i)%4, cl.Tx(fmt.Sprintf("c%d-%d", k, i)))
			if i < 10 {
				acked = append(acked, id)
			} else {
				inflight = append(inflight, id)
			}
			if i == 9 {
				c.WaitCommitted(id, 30*time.Second)
			}
		}
	}
	for i := range c.Nodes { // all down, load still in flight
		c.Stop(i)
	}
	restarted := time.Now()
	for i := range c.Nodes {
		c.Start(i)
	}
	c.WaitCommitted(c.Submit(0, c.NewClient().Tx("after")), healBound)
	t.Logf("cold restart of all 4 nodes; commits resumed after %v", time.Since(restarted))
	for _, id := range acked {
		c.WaitCommitted(id, healBound)
	}
	// In-flight transactions that made it are acknowledged now; the checker
	// proves each is in exactly one block.
	for _, id := range inflight {
		if st, _, _, err := c.Nodes[0].Rep.TxState(id); err == nil && st == 2 {
			c.WaitCommitted(id, healBound)
		}
	}
	c.Check()
}

func TestRaftLossAndDelay(t *testing.T) {
	c := newCluster(t, 4, seed(t, 26), nil)
	c.Net.SetFaults(0.05, 20*time.Millisecond)
	cl := c.NewClient()
	c.WaitCommitted(c.SubmitSpread(cl, 60, "r"), 60*time.Second)
	c.Check()
}

// TestRaftSnapshotBehindPruningPeers: an isolated node misses more blocks
// than the leader's log and every ledger keep. On healing the leader sends
// it a snapshot it cannot fetch the blocks for: the engine stops at once
// with a BehindError (its runner then restores a state snapshot) instead
// of asking its peers in a loop until RestoreTimeout.
func TestRaftSnapshotBehindPruningPeers(t *testing.T) {
	c := newClusterWith(t, 3, seed(t, 26), func(cfg *Config) {
		// The log no longer than the ledger; a restore may try for 2 min.
		cfg.TrailingLogs, cfg.SnapshotThreshold, cfg.SnapshotInterval = 2*ledger.MinRetainBlocks, 2*ledger.MinRetainBlocks, 100*time.Millisecond
		cfg.RestoreTimeout = 2 * time.Minute
	}, false, ledger.Options{RetainBlocks: ledger.MinRetainBlocks})
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("a")), 30*time.Second)
	lead := leader(c, 10*time.Second)
	iso := (lead + 1) % 3
	other := 3 - lead - iso
	c.Net.Split([]uint64{uint64(iso) + 1}, []uint64{uint64(lead) + 1, uint64(other) + 1}, true)
	for i := 0; i < 2*ledger.MinRetainBlocks+4; i++ { // one block each
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, _, err := c.Nodes[lead].Rep.WaitTx(ctx, c.Submit(lead, cl.Tx(fmt.Sprintf("b%d", i)))); err != nil {
			t.Fatalf("majority side: %v", err)
		}
		cancel()
	}
	if base, head := c.Nodes[lead].Rep.Base(), c.Nodes[iso].Rep.Head().Height; base <= head+1 {
		t.Fatalf("leader's base %d: not pruned past the isolated node's head %d", base, head)
	}
	healed := time.Now()
	c.Net.Split([]uint64{uint64(iso) + 1}, []uint64{uint64(lead) + 1, uint64(other) + 1}, false)
	eng := c.Nodes[iso].Eng
	select {
	case <-eng.failed:
	case <-time.After(3 * healBound): // Raft's retry backoff to the node can reach 10 s
		t.Fatalf("node %d: engine still running %v after healing, at height %d", iso+1, 3*healBound, c.Nodes[iso].Rep.Head().Height)
	}
	t.Logf("node %d stopped %v after healing", iso+1, time.Since(healed))
	var be *consensus.BehindError
	if err := c.StopErr(iso); !errors.As(err, &be) {
		t.Fatalf("engine error %v, want a BehindError", err)
	} else {
		t.Logf("engine error: %v", err)
	}
	c.Check()
}
