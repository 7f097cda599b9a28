package raft

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
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
	cl := newClient(c.suite)
	c.waitCommitted(c.submit(0, cl.tx("a")), 30*time.Second)
	lead := c.leader(10 * time.Second)
	f := (lead + 1) % 4
	c.stop(f) // SIGKILL-like: no more messages, disk kept
	var last crypto.Hash
	for i := 0; i < 20; i++ {
		last = c.submit(lead, cl.tx(fmt.Sprintf("b%d", i)))
	}
	c.waitCommitted(last, 30*time.Second)
	restarted := time.Now()
	c.start(f)
	c.waitCommitted(last, healBound) // the restarted follower caught up
	t.Logf("follower %d restarted; caught up after %v", f+1, time.Since(restarted))
	last = c.submit(f, cl.tx("after"))
	c.waitCommitted(last, healBound)
	t.Logf("follower %d: its own new transaction committed %v after restart", f+1, time.Since(restarted))
	c.check()
}

func TestRaftLeaderCrashElectsNewLeader(t *testing.T) {
	c := newCluster(t, 4, seed(t, 22), nil)
	cl := newClient(c.suite)
	c.waitCommitted(c.submit(0, cl.tx("a")), 30*time.Second)
	lead := c.leader(10 * time.Second)
	c.stop(lead)
	crashed := time.Now()
	other := (lead + 1) % 4
	c.waitCommitted(c.submit(other, cl.tx("b")), healBound)
	t.Logf("leader %d crashed; commits resumed after %v", lead+1, time.Since(crashed))
	if n := c.leader(healBound); n == lead {
		t.Fatal("the crashed node still leads")
	}
	// The old leader restarts as a follower and catches up.
	c.start(lead)
	c.waitCommitted(c.submit(lead, cl.tx("c")), healBound)
	c.check()
}

// TestRaftIsolatedNodeRejoins isolates a node while the others commit
// enough blocks for the leader to compact its log, so on healing the node
// is sent a snapshot: the FSM restores it by fetching the missing blocks
// from peers (certificates checked, blocks re-executed).
func TestRaftIsolatedNodeRejoins(t *testing.T) {
	c := newCluster(t, 4, seed(t, 23), func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 8, 4, 100*time.Millisecond
	})
	cl := newClient(c.suite)
	c.waitCommitted(c.submit(0, cl.tx("a")), 30*time.Second)
	lead := c.leader(10 * time.Second)
	iso := uint64((lead+2)%4) + 1
	others := []uint64{}
	for n := uint64(1); n <= 4; n++ {
		if n != iso {
			others = append(others, n)
		}
	}
	c.net.split([]uint64{iso}, others, true)
	var last crypto.Hash
	for i := 0; i < 30; i++ {
		last = c.submit(lead, cl.tx(fmt.Sprintf("r%d", i)))
		if i%3 == 2 { // many small blocks: many log entries
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, _, err := c.nodes[lead].rep.WaitTx(ctx, last); err != nil {
				t.Fatalf("majority side: %v", err)
			}
			cancel()
		}
	}
	behind := c.nodes[iso-1].rep.Ledger().Height()
	healed := time.Now()
	c.net.split([]uint64{iso}, others, false)
	c.waitCommitted(last, healBound)
	t.Logf("isolation of node %d healed; it caught up from height %d after %v", iso, behind, time.Since(healed))
	if n := c.nodes[iso-1].eng.syncer.fetched.Load(); n == 0 {
		t.Fatal("the isolated node caught up without a snapshot: compaction did not happen")
	} else {
		t.Logf("node %d restored a snapshot and fetched %d blocks from peers", iso, n)
	}
	c.waitCommitted(c.submit(int(iso-1), cl.tx("after")), healBound)
	c.check()
}

func TestRaftSplitHaltsWithoutFork(t *testing.T) {
	c := newCluster(t, 4, seed(t, 24), nil)
	cl := newClient(c.suite)
	c.waitCommitted(c.submit(0, cl.tx("before")), 30*time.Second)
	before := c.heights()
	c.net.split([]uint64{1, 2}, []uint64{3, 4}, true)
	// Neither half has a majority (3 of 4): nothing may commit.
	id := c.submit(0, cl.tx("during"))
	id2 := c.submit(3, newClient(c.suite).tx("during-other-side"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	for _, m := range c.nodes {
		if _, _, err := m.rep.WaitTx(ctx, id); err == nil {
			t.Fatalf("node %d committed a transaction during a 2-2 split", m.id)
		}
	}
	cancel()
	for i, h := range c.heights() {
		if h != before[i] {
			t.Fatalf("node %d advanced from %d to %d during the split", i+1, before[i], h)
		}
	}
	c.check()
	healed := time.Now()
	c.net.split([]uint64{1, 2}, []uint64{3, 4}, false)
	c.waitCommitted(id, healBound)
	c.waitCommitted(id2, healBound)
	t.Logf("split healed; commits resumed after %v", time.Since(healed))
	c.check()
}

// TestRaftColdRestartUnderLoad stops every node while transactions are in
// flight and starts them all again with their data: what was acknowledged
// survives exactly once, what was in flight is committed at most once, and
// the chain goes on.
func TestRaftColdRestartUnderLoad(t *testing.T) {
	c := newCluster(t, 4, seed(t, 25), nil)
	var acked, inflight []crypto.Hash
	for k := 0; k < 4; k++ {
		cl := newClient(c.suite)
		for i := 0; i < 25; i++ {
			id := c.submit((k+i)%4, cl.tx(fmt.Sprintf("c%d-%d", k, i)))
			if i < 10 {
				acked = append(acked, id)
			} else {
				inflight = append(inflight, id)
			}
			if i == 9 {
				c.waitCommitted(id, 30*time.Second)
			}
		}
	}
	for i := range c.nodes { // all down, load still in flight
		c.stop(i)
	}
	restarted := time.Now()
	for i := range c.nodes {
		c.start(i)
	}
	c.waitCommitted(c.submit(0, newClient(c.suite).tx("after")), healBound)
	t.Logf("cold restart of all 4 nodes; commits resumed after %v", time.Since(restarted))
	for _, id := range acked {
		c.waitCommitted(id, healBound)
	}
	// In-flight transactions that made it are acknowledged now; the checker
	// proves each is in exactly one block.
	for _, id := range inflight {
		if st, _, _, err := c.nodes[0].rep.TxState(id); err == nil && st == 2 {
			c.waitCommitted(id, healBound)
		}
	}
	c.check()
}

func TestRaftLossAndDelay(t *testing.T) {
	c := newCluster(t, 4, seed(t, 26), nil)
	c.net.mu.Lock()
	c.net.loss, c.net.delay = 0.05, 20*time.Millisecond
	c.net.mu.Unlock()
	cl := newClient(c.suite)
	var last crypto.Hash
	for i := 0; i < 60; i++ {
		last = c.submit(i%4, cl.tx(fmt.Sprintf("r%d", i)))
	}
	c.waitCommitted(last, 60*time.Second)
	c.check()
}
