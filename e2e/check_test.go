//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// convergeTimeout bounds how long, after the load stops, the nodes may take
// to reach one height. Not reaching it is a hang.
const convergeTimeout = 60 * time.Second

// check stops the load and verifies, from the public API only:
//  1. no two nodes have different header hashes at any height (and each
//     header's parent is the hash of the block before);
//  2. equal state roots at equal heights;
//  3. every acknowledged transaction is committed on every node at the
//     acknowledged height and block, and appears in exactly one block;
//
// on the load chain and a second chain, and that every node is running and
// none exited unless the test killed it. (4), the recovery bound, is
// asserted by each scenario when it heals the fault.
func (c *cluster) check(t *testing.T, l *load) {
	t.Helper()
	c.checkChains(t, l, loadChain, otherChain)
}

// checkChains is check on the given chains.
func (c *cluster) checkChains(t *testing.T, l *load, chains ...string) {
	t.Helper()
	l.stop()
	acks, odd := l.snapshot()
	for _, o := range odd {
		t.Errorf("load generator: %s", o)
	}
	for _, i := range c.all() {
		p := c.nodes[i]
		p.mu.Lock()
		running, exits := p.running, append([]string(nil), p.exits...)
		p.mu.Unlock()
		if !running {
			t.Errorf("%s is not running at the end of the scenario (exits %v)", p.id, exits)
		}
		for _, e := range exits {
			if strings.Contains(e, "unexpected") {
				t.Errorf("%s exited by itself: %s", p.id, e)
			}
		}
	}
	byChain := map[string][]ack{}
	for _, a := range acks {
		byChain[a.chain] = append(byChain[a.chain], a)
	}
	for _, chainID := range chains {
		c.checkChain(t, chainID, byChain[chainID])
	}
	c.logf("checked: %d acknowledged transactions on %v", len(acks), chains)
}

func (c *cluster) checkChain(t *testing.T, chainID string, acks []ack) {
	t.Helper()
	all := c.all()
	// Wait for one height everywhere. A node that stays behind is a hang;
	// the checks below still run on the heights each node has.
	var hs map[int]uint64
	began := time.Now()
	deadline := began.Add(convergeTimeout)
	converged := false
	for time.Now().Before(deadline) {
		hs = c.heights(all, chainID)
		if len(hs) == len(all) && minOf(hs) == maxOf(hs) {
			converged = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if took := time.Since(began); took > 2*time.Second {
		c.logf("%s: the nodes took %.2fs to reach one height after the load stopped", chainID, took.Seconds())
	}
	if !converged {
		t.Errorf("HANG: %s: the nodes did not reach one height within %v after the load stopped: %v", chainID, convergeTimeout, c.named(hs))
		defer func() { // after the checks below, which need the API
			for i, h := range hs {
				if h < maxOf(hs) {
					c.nodes[i].dumpStacks()
					t.Logf("%s stays behind on %s: goroutine dump (SIGQUIT) in %s", c.nodes[i].id, chainID, c.nodes[i].logPath)
					if knownDeadlock(c.nodes[i].logPath) {
						t.Errorf("%s: its stacks show %s", c.nodes[i].id, deadlockBug)
					}
				}
			}
		}()
	}

	// Bases: nodes that prune (retain_blocks) or began from a snapshot
	// hold no blocks below theirs (the load has stopped: they stay).
	for _, i := range all {
		if s, err := c.summary(i, chainID); err == nil && s.Base > c.nodes[i].base[chainID] {
			if c.nodes[i].base == nil {
				c.nodes[i].base = map[string]uint64{}
			}
			c.nodes[i].base[chainID] = s.Base
		}
	}
	// Every node's blocks, 0 to its height.
	blocks := make([][]*block, len(c.nodes))
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for _, i := range all {
		if _, ok := hs[i]; !ok {
			errs[i] = fmt.Errorf("%s does not answer", c.nodes[i].id)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := uint64(0); h <= hs[i]; h++ {
				if h > 0 && h < c.nodes[i].base[chainID] {
					blocks[i] = append(blocks[i], nil) // before its snapshot
					continue
				}
				b, err := c.block(i, chainID, h)
				if errors.Is(err, errPruned) {
					blocks[i] = append(blocks[i], nil) // pruned by a block after the bases were read
					continue
				}
				if err != nil {
					errs[i] = err
					return
				}
				blocks[i] = append(blocks[i], b)
			}
		}()
	}
	wg.Wait()
	ref := -1 // the answering node with the most blocks
	for _, i := range all {
		if errs[i] != nil {
			t.Errorf("%s: reading %s blocks: %v", c.nodes[i].id, chainID, errs[i])
		} else if ref < 0 || hs[i] > hs[ref] || hs[i] == hs[ref] && c.nodes[ref].base[chainID] > c.nodes[i].base[chainID] {
			ref = i // prefer a node holding the most blocks
		}
	}
	if ref < 0 {
		t.Fatalf("%s: no node's blocks could be read", chainID)
	}
	top := hs[ref]

	// (1) and (2): at every height the nodes that have it hold one header
	// hash and one state root, and each header links to the one before.
	forks := 0
	for h := uint64(0); h <= top; h++ {
		rb := blocks[ref][h]
		if rb == nil {
			continue // every node was restored from a snapshot above h
		}
		if rb.Header.Height != h {
			t.Errorf("%s: %s serves block %d for height %d", chainID, c.nodes[ref].id, rb.Header.Height, h)
		}
		if h > 0 && blocks[ref][h-1] != nil && rb.Header.Parent != blocks[ref][h-1].Header.Hash {
			t.Errorf("%s: block %d's parent %s is not block %d's hash %s", chainID, h, rb.Header.Parent, h-1, blocks[ref][h-1].Header.Hash)
		}
		for _, i := range all {
			if errs[i] != nil || i == ref || h > hs[i] {
				continue
			}
			b := blocks[i][h]
			if b == nil || rb == nil {
				continue // below a restored node's snapshot
			}
			if b.Header.Hash != rb.Header.Hash && forks < 10 {
				forks++
				t.Errorf("FORK on %s at height %d: %s has %s (proposer %s), %s has %s (proposer %s)", chainID, h,
					c.nodes[ref].id, rb.Header.Hash, rb.Header.Proposer, c.nodes[i].id, b.Header.Hash, b.Header.Proposer)
			}
			if b.Header.StateRoot != rb.Header.StateRoot && forks < 10 {
				forks++
				t.Errorf("%s: state roots differ at height %d: %s %s, %s %s", chainID, h,
					c.nodes[ref].id, rb.Header.StateRoot, c.nodes[i].id, b.Header.StateRoot)
			}
		}
	}

	// (3) Every transaction in exactly one block; acknowledged ones where
	// the client was told, and committed there on every node.
	where := map[string][]uint64{}
	txs := 0
	// The reference holds every block from refBase on (pruning nodes and
	// restored ones hold none below some height).
	refBase := top + 1
	for refBase > 1 && blocks[ref][refBase-1] != nil {
		refBase--
	}
	for h := refBase; h <= top; h++ {
		for _, tx := range blocks[ref][h].Transactions {
			where[tx.ID] = append(where[tx.ID], h)
			txs++
		}
	}
	dups := 0
	for id, at := range where {
		if len(at) > 1 && dups < 10 {
			dups++
			t.Errorf("%s: transaction %s is in %d blocks: %v", chainID, id, len(at), at)
		}
	}
	var mu sync.Mutex
	bad := 0
	badf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if bad < 20 {
			t.Errorf(format, args...)
		}
		bad++
	}
	for _, a := range acks {
		if a.height < refBase {
			continue // pruned everywhere: looked up below where still held
		}
		at := where[a.id]
		switch {
		case len(at) == 0:
			badf("LOST: %s tx %s acknowledged by %s at height %d (%s) is in no block up to %d", chainID, a.id, c.nodes[a.node].id, a.height, a.hash, top)
		case at[0] != a.height:
			badf("%s tx %s acknowledged at height %d by %s, but it is in block %d", chainID, a.id, a.height, c.nodes[a.node].id, at[0])
		case blocks[ref][a.height].Header.Hash != a.hash:
			badf("%s tx %s acknowledged in block %d %s by %s, but that block is %s", chainID, a.id, a.height, a.hash, c.nodes[a.node].id, blocks[ref][a.height].Header.Hash)
		}
	}
	// Look every acknowledged transaction up on every node that has its
	// block (a node that stayed behind is reported above as a hang).
	type job struct {
		a ack
		i int
	}
	jobs := make(chan job)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var v txView
				code, err := c.getJSON(c.nodes[j.i].api+"/v1/chains/"+chainID+"/transactions/"+j.a.id, &v)
				switch {
				case code == http.StatusGone:
					// Pruned by a block committed after the bases were read.
				case err != nil:
					badf("%s: %s tx %s (acknowledged at %d): %v", c.nodes[j.i].id, chainID, j.a.id, j.a.height, err)
				case v.Status != "committed" || v.Height != j.a.height || v.Header.Hash != j.a.hash:
					badf("%s: %s tx %s is %s at %d (%s); acknowledged committed at %d (%s)", c.nodes[j.i].id, chainID, j.a.id, v.Status, v.Height, v.Header.Hash, j.a.height, j.a.hash)
				}
			}
		}()
	}
	behind := map[int]int{}
	for _, a := range acks {
		for _, i := range all {
			if errs[i] == nil && a.height > hs[i] {
				behind[i]++
				continue
			}
			if a.height < c.nodes[i].base[chainID] {
				continue // committed before the node's snapshot
			}
			jobs <- job{a, i}
		}
	}
	close(jobs)
	wg.Wait()
	for i, n := range behind {
		t.Errorf("%s: %s is at height %d: %d acknowledged transaction(s) above it not found there", chainID, c.nodes[i].id, hs[i], n)
	}
	if bad > 20 {
		t.Errorf("%s: %d acknowledged-transaction errors in all", chainID, bad)
	}
	proposers := map[string]int{}
	for h := refBase; h <= top; h++ {
		proposers[blocks[ref][h].Header.Proposer]++
	}
	var ps []string
	for p, n := range proposers {
		ps = append(ps, fmt.Sprintf("%s:%d", p, n))
	}
	sort.Strings(ps)
	c.logf("%s: height %d (%v), %d transactions in blocks, %d acknowledged, proposers %v", chainID, top, c.named(hs), txs, len(acks), ps)
}

// deadlockBug is the hang TestPauseFollower and TestIsolateFollower reveal
// (docs/faults.md, "Bugs found").
const deadlockBug = "the SmartBFT v1.0.1 deadlock: a follower that is behind syncs while a decision is in flight; " +
	"the view is replaced, the waiter leaves, and Controller.decide blocks forever sending on deliverChan, " +
	"so that chain's consensus stops on that node until it restarts (upstream hyperledger-labs/SmartBFT PR #681)"

// knownDeadlock reports whether the last goroutine dump in a node's log
// has SmartBFT's controller blocked in decide.
func knownDeadlock(logPath string) bool {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return false
	}
	i := bytes.LastIndex(b, []byte("SIGQUIT: quit"))
	return i >= 0 && bytes.Contains(b[i:], []byte("internal/bft.(*Controller).decide("))
}
