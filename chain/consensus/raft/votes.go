package raft

import (
	"sort"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// votes collects, on the leader, certificate signatures for one pending
// block. Each validator's latest vote is kept even before the leader opens
// the collection (followers sign as soon as they apply the proposal, which
// may be before the leader's own apply returns).
type votes struct {
	mu      sync.Mutex
	latest  map[uint64]vote // by node number, signature verified
	changed chan struct{}   // closed when a vote arrives
}

func newVotes() *votes {
	return &votes{latest: make(map[uint64]vote), changed: make(chan struct{})}
}

// add records a verified vote from node.
func (v *votes) add(node uint64, x vote) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.latest[node]; ok && old.height > x.height {
		return
	}
	v.latest[node] = x
	close(v.changed)
	v.changed = make(chan struct{})
}

// wait returns a channel closed at the next vote.
func (v *votes) wait() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// commit returns the certificate from the votes for (height, hash), and the
// nodes still missing.
func (v *votes) commit(height uint64, hash crypto.Hash, nodes uint64) (chain.Commit, []uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var c chain.Commit
	var missing []uint64
	for n := uint64(1); n <= nodes; n++ {
		x, ok := v.latest[n]
		if ok && x.height == height && crypto.Hash(x.hash) == hash {
			c.Sigs = append(c.Sigs, chain.CommitSig{Index: uint32(n - 1), Sig: x.sig})
		} else {
			missing = append(missing, n)
		}
	}
	sort.Slice(c.Sigs, func(i, j int) bool { return c.Sigs[i].Index < c.Sigs[j].Index })
	return c, missing
}
