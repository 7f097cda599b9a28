package member_test

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus/simnet"
	"github.com/polityledger/polity/chain/ledger"
)

// TestStateSyncRejoins: four validators keep 64 blocks; v4 stops while the
// others commit well past that, then restarts: its peers have pruned what
// it lacks, so it restores a state snapshot from one of them, fetches the
// blocks after it and signs certificates again. The first two snapshots
// it is sent are corrupted in flight (a lying peer): it refuses them and
// tries another peer.
func TestStateSyncRejoins(t *testing.T) { stateSyncRejoins(t, chain.ConsensusBFT) }

// TestStateSyncRejoinsRaft is TestStateSyncRejoins on a Raft chain.
func TestStateSyncRejoinsRaft(t *testing.T) { stateSyncRejoins(t, chain.ConsensusRaft) }

func stateSyncRejoins(t *testing.T, kind string) {
	// Blocks come every ~30 ms here: the window must outlast an engine's
	// start (half a second) for the node to keep up after its restore.
	const retain = 64
	c := newClusterWith(t, kind, 4, 0, simnet.Seed(t, "BFT_SEED", 41), ledger.Options{RetainBlocks: retain})
	l := startLoad(t, c, func() []int { return []int{0, 1, 2} })
	waitHeight(t, c, 3, 3, switchBound)
	c.Stop(3)
	stopped := c.Nodes[0].Rep.Head().Height
	waitHeight(t, c, 0, stopped+3*retain, 3*switchBound)
	if base := c.Nodes[0].Rep.Base(); base <= stopped+1 {
		t.Fatalf("v1 base %d: not pruned past v4's head %d", base, stopped)
	}
	var mu sync.Mutex
	lied := map[uint64]bool{} // snapshot sessions corrupted
	c.Net.SetMutate(func(_ *rand.Rand, from, to uint64, data []byte) []byte {
		if to != 4 || len(data) < 2 || data[0] != 0xF7 { // member's snapshot chunk kind
			return data
		}
		id, _ := binary.Uvarint(data[1:])
		mu.Lock()
		defer mu.Unlock()
		if len(lied) < 2 {
			lied[id] = true
		}
		if lied[id] {
			data[len(data)-1] ^= 1
		}
		return data
	})
	c.Start(3)
	target := c.Nodes[0].Rep.Head().Height + 2
	took := waitHeight(t, c, 3, target, 2*switchBound)
	t.Logf("v4 stopped at %d, restarted with v1 at %d: reached %d %v later, base %d", stopped, target-2, target, took, c.Nodes[3].Rep.Base())
	if base := c.Nodes[3].Rep.Base(); base <= stopped+1 {
		t.Fatalf("v4 caught up without a snapshot (base %d)", base)
	}
	mu.Lock()
	if len(lied) != 2 {
		t.Fatalf("%d snapshot sessions corrupted, want 2 refused before one restored", len(lied))
	}
	mu.Unlock()
	waitFor(t, "v4 to validate again", c.Nodes[3].Eng.Validating)
	// v4 (index 3) signs certificates again.
	deadline := time.Now().Add(switchBound)
	for h := c.Nodes[0].Rep.Head().Height + 1; ; h++ {
		waitHeight(t, c, 0, h, switchBound)
		if slices.Contains(signers(t, c, 0, h), 3) {
			t.Logf("v4 signs the certificate of block %d", h)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v4 signed no certificate up to block %d (signers %v); heights %v", h, signers(t, c, 0, h), c.Heights())
		}
	}
	sent := l.finish(t)
	t.Logf("%d load transactions committed; heights %v", sent, c.Heights())
	c.Check()
}

// TestStateSyncFollower: a follower (in no validator set) stops while the
// validators commit past their 64-block window; restarted, its sync round
// finds them pruned past its head, and it restores a snapshot and follows.
func TestStateSyncFollower(t *testing.T) {
	const retain = 64
	c := newClusterWith(t, chain.ConsensusBFT, 4, 1, simnet.Seed(t, "BFT_SEED", 43), ledger.Options{RetainBlocks: retain})
	l := startLoad(t, c, func() []int { return []int{0, 1, 2, 3} })
	waitHeight(t, c, 4, 3, switchBound)
	c.Stop(4)
	stopped := c.Nodes[0].Rep.Head().Height
	waitHeight(t, c, 0, stopped+3*retain, 3*switchBound)
	c.Start(4)
	target := c.Nodes[0].Rep.Head().Height + 2
	took := waitHeight(t, c, 4, target, 2*switchBound)
	t.Logf("v5 stopped at %d, reached %d %v after its restart, base %d", stopped, target, took, c.Nodes[4].Rep.Base())
	if base := c.Nodes[4].Rep.Base(); base <= stopped+1 {
		t.Fatalf("the follower caught up without a snapshot (base %d)", base)
	}
	if c.Nodes[4].Eng.Validating() {
		t.Fatal("the follower runs an engine")
	}
	sent := l.finish(t)
	t.Logf("%d load transactions committed; heights %v", sent, c.Heights())
	c.Check()
}
