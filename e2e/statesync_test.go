//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// retainE2E is TestStateSync's block retention (the least allowed).
const retainE2E = 16

// State sync bounds: resume and catch-up from the restart of a node whose
// peers pruned past its head (see recovered). About three times the worst
// of 18 runs (SmartBFT: 4.27 s, 4.27 s) and 5 runs (Raft: 2.85 s, 7.71 s)
// on 2 cores (docs/faults.md): the restarted node starts its engine,
// probes its peers, stops the engine, restores a snapshot and fetches the
// blocks after it.
const (
	resumeStateSync, catchUpStateSync         = 13 * time.Second, 13 * time.Second
	resumeStateSyncRaft, catchUpStateSyncRaft = 9 * time.Second, 24 * time.Second
)

// TestStateSync: every node keeps 16 blocks of each chain (--retain-blocks
// 16). A follower is killed under load while the others commit well past
// that horizon; restarted with its stale ledger, it finds its peers pruned
// past its head, restores a state snapshot from one of them over the peer
// network (verified from its own genesis), fetches the blocks after it and
// rejoins consensus, without any operator step.
func TestStateSync(t *testing.T) {
	c := startCluster(t, 0, false, "--retain-blocks", fmt.Sprint(retainE2E))
	l := warmUp(t, c)
	lead := c.leader(t, loadChain)
	v := c.follower(lead)
	above, at := c.top(), time.Now()
	c.kill(v)
	c.progress(t, without(c.all(), v), at, above, -1)
	// Every other node prunes well past v's head.
	deadline := time.Now().Add(progressLimit)
	for {
		low := ^uint64(0)
		for _, i := range without(c.all(), v) {
			s, err := c.summary(i, loadChain)
			if err != nil {
				t.Fatal(err)
			}
			low = min(low, s.Base)
		}
		if low > above+2*retainE2E {
			c.logf("%s stopped at %d; the others' lowest base is %d", c.nodes[v].id, above, low)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the others' lowest %s base is %d after %v, not past %d", loadChain, low, progressLimit, above+2*retainE2E)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopped := above
	above = c.top()
	heal := time.Now()
	c.restart(v)
	if cft {
		c.recovered(t, heal, above, resumeStateSyncRaft, catchUpStateSyncRaft)
	} else {
		c.recovered(t, heal, above, resumeStateSync, catchUpStateSync)
	}
	s, err := c.summary(v, loadChain)
	if err != nil {
		t.Fatal(err)
	}
	if s.Base <= stopped+1 {
		t.Fatalf("%s caught up from %d without a state snapshot (base %d)", c.nodes[v].id, stopped, s.Base)
	}
	c.logf("%s restored %s from a peer's snapshot: base %d", c.nodes[v].id, loadChain, s.Base)
	c.check(t, l)
}
