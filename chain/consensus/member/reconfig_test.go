package member_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/member"
	"github.com/polityledger/polity/chain/consensus/raft"
	"github.com/polityledger/polity/chain/consensus/simnet"
	"github.com/polityledger/polity/chain/consensus/smartbft"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/valset"
	"github.com/polityledger/polity/domains/records"
)

// switchBound bounds the time from a set change's commit to the first block
// the new set certifies, on a 2-core machine under the test's load (see
// docs/faults.md for measured values).
const switchBound = 20 * time.Second

var putRecord = simnet.Workload{Module: records.Module{}, Method: "put",
	Args: func(id string) []byte { return fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id) }}

// newCluster starts validators and followers of a chain ordered by kind
// (chain.ConsensusBFT or chain.ConsensusRaft), each validator running the
// engine for its current set through a member.Runner.
func newCluster(t *testing.T, kind string, validators, followers int, seed uint64) *simnet.Cluster[*member.Runner] {
	return newClusterWith(t, kind, validators, followers, seed, ledger.Options{})
}

// newClusterWith is newCluster with every node's ledger tuned by lo.
func newClusterWith(t *testing.T, kind string, validators, followers int, seed uint64, lo ledger.Options) *simnet.Cluster[*member.Runner] {
	return simnet.NewCluster(t, simnet.Config[*member.Runner]{Validators: validators, Followers: followers, Governance: true,
		Seed: seed, Consensus: kind, Workload: putRecord, DebugEnv: "BFT_DEBUG", Ledger: lo,
		Open: func(n simnet.Node) (*member.Runner, error) {
			return member.New(member.Config{ChainID: n.Genesis.ChainID, App: n.Rep, SelfID: n.SelfID, Dir: member.IDs(n.IDs),
				Net: n.Net, Suite: n.Suite, Logger: n.Logger,
				Build: func(vs *chain.ValidatorSet, net consensus.Network) (member.Engine, error) {
					dir := filepath.Join(n.Dir, vs.Hash(n.Suite).String()[:16])
					if kind == chain.ConsensusRaft {
						return newRaft(n, vs, net, dir, lo.RetainBlocks)
					}
					cfg := smartbft.DefaultConfig()
					cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = n.Genesis.ChainID, n.Rep, n.Suite, n.Key
					cfg.Validators, cfg.SelfID = *vs, n.SelfID
					cfg.Net, cfg.Logger = net, n.Logger
					cfg.WALDir = dir
					cfg.ViewChangeTimeout, cfg.RequestComplainTimeout = 2*time.Second, 2*time.Second
					cfg.StuckAfter = 3 * time.Second
					return smartbft.New(cfg)
				}})
		}})
}

// newRaft builds a Raft engine for set vs with the simulated network's
// timing (a fresh cluster per set, its log in dir), the log kept for about
// retain blocks (0: the default) and compacted often.
func newRaft(n simnet.Node, vs *chain.ValidatorSet, net consensus.Network, dir string, retain uint64) (member.Engine, error) {
	cfg := raft.DefaultConfig()
	cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = n.Genesis.ChainID, n.Rep, n.Suite, n.Key
	cfg.Validators, cfg.SelfID = *vs, n.SelfID
	cfg.Net, cfg.Dir, cfg.Logger = net, dir, n.Logger
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 150*time.Millisecond, 300*time.Millisecond
	cfg.LeaderLeaseTimeout, cfg.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	cfg.RPCTimeout, cfg.VoteRetry, cfg.ForwardRetry = 300*time.Millisecond, 100*time.Millisecond, time.Second
	cfg.RestoreTimeout = 20 * time.Second
	if retain > 0 { // the log no longer than the ledger: a node behind both needs a state snapshot
		cfg.TrailingLogs, cfg.SnapshotThreshold, cfg.SnapshotInterval = 2*retain, 2*retain, 200*time.Millisecond
	}
	return raft.New(cfg)
}

// gov sends validators' governance transactions, each from its own key.
type gov struct {
	c      *simnet.Cluster[*member.Runner]
	nonces map[int]uint64
	// only, if set, is the one node send waits on (others may be cut off).
	only bool
}

// send has node i sign valset.method(args), submits it to node i and waits
// until every running node (node i only if g.only) committed it; it
// returns the receipt's proposal ID ("" for a vote short of a quorum) and
// the block height.
func (g *gov) send(t *testing.T, i int, method string, args any) (string, uint64) {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	tx := &chain.Tx{ChainID: simnet.ChainID, Nonce: g.nonces[i], Module: valset.Name, Method: method, Args: raw}
	g.nonces[i]++
	if err := tx.Sign(g.c.Suite, g.c.Key(i)); err != nil {
		t.Fatal(err)
	}
	id := g.c.Submit(i, tx)
	if g.only {
		ctx, cancel := context.WithTimeout(context.Background(), switchBound)
		defer cancel()
		if _, _, err := g.c.Nodes[i].Rep.WaitTx(ctx, id); err != nil {
			t.Fatalf("valset.%s by node %d: %v", method, i+1, err)
		}
	} else {
		g.c.WaitCommitted(id, switchBound)
	}
	ct, err := g.c.Nodes[i].Rep.TxProof(id)
	if err != nil {
		t.Fatal(err)
	}
	rc := ct.Bundle.Receipt
	if rc.Status != chain.StatusOK {
		t.Fatalf("valset.%s by node %d failed: %s", method, i+1, rc.Error)
	}
	for _, e := range rc.Events {
		for _, a := range e.Attrs {
			if a.Key == "proposal" {
				return a.Value, ct.Height
			}
		}
	}
	return "", ct.Height
}

// load submits workload transactions to the current validators until
// stopped, then waits for each to commit (acknowledging it for Check).
type load struct {
	c    *simnet.Cluster[*member.Runner]
	stop chan struct{}
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	sent []crypto.Hash
	err  error
}

// startLoad submits a transaction every 10 ms to one of to()'s nodes in
// turn; a node that refuses (switching sets) gets the same transaction
// again on the next turn.
func startLoad(t *testing.T, c *simnet.Cluster[*member.Runner], to func() []int) *load {
	l := &load{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	cl := c.NewClient()
	t.Cleanup(l.halt)
	go func() {
		defer close(l.done)
		var tx *chain.Tx
		refused := 0
		for k := 0; ; k++ {
			select {
			case <-l.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if tx == nil {
				tx = cl.Tx(fmt.Sprintf("load%d", k))
			}
			targets := to()
			id, err := c.Nodes[targets[k%len(targets)]].Rep.Submit(tx)
			if err != nil {
				if os.Getenv("LOAD_DEBUG") != "" {
					fmt.Fprintf(os.Stderr, "load tx %d refused by node %d: %v\n", k, targets[k%len(targets)]+1, err)
				}
				if refused++; refused > 3000 {
					l.mu.Lock()
					l.err = fmt.Errorf("load: refused for 30 s: %w", err)
					l.mu.Unlock()
					return
				}
				continue
			}
			if os.Getenv("LOAD_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "load tx %d %s to node %d\n", k, id, targets[k%len(targets)]+1)
			}
			tx, refused = nil, 0
			l.mu.Lock()
			l.sent = append(l.sent, id)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

func (l *load) finish(t *testing.T) int {
	t.Helper()
	l.halt()
	if l.err != nil {
		t.Fatal(l.err)
	}
	for _, id := range l.sent {
		l.c.WaitCommitted(id, switchBound)
	}
	return len(l.sent)
}

// signers returns the validator indices in block h's certificate.
func signers(t *testing.T, c *simnet.Cluster[*member.Runner], node int, h uint64) []uint32 {
	t.Helper()
	b, err := c.Nodes[node].Rep.Block(h)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	for _, s := range b.Commit.Sigs {
		out = append(out, s.Index)
	}
	return out
}

// waitHeight waits until node i's head reaches h.
func waitHeight(t *testing.T, c *simnet.Cluster[*member.Runner], i int, h uint64, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for c.Nodes[i].Rep.Head().Height < h {
		select {
		case <-ctx.Done():
			t.Fatalf("node %d at height %d, not %d, after %v", i+1, c.Nodes[i].Rep.Head().Height, h, within)
		case <-c.Nodes[i].Rep.Committed():
		}
	}
	return time.Since(start)
}

// waitFor waits up to switchBound for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(switchBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, switchBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAddFollowerThenRemoveValidator: 4 validators and a follower under
// load; governance adds the follower, which then signs certificates, and
// removes validator v1, which becomes a follower and is then stopped; the
// chain keeps committing with the new set throughout.
func TestAddFollowerThenRemoveValidator(t *testing.T) {
	addFollowerThenRemove(t, newCluster(t, chain.ConsensusBFT, 4, 1, simnet.Seed(t, "BFT_SEED", 31)))
}

// TestRaftAddFollowerThenRemoveValidator is the same on a Raft chain: each
// set is a Raft cluster of its own, bootstrapped by its members at the
// set's first height.
func TestRaftAddFollowerThenRemoveValidator(t *testing.T) {
	addFollowerThenRemove(t, newCluster(t, chain.ConsensusRaft, 4, 1, simnet.Seed(t, "BFT_SEED", 31)))
}

func addFollowerThenRemove(t *testing.T, c *simnet.Cluster[*member.Runner]) {
	g := &gov{c: c, nonces: map[int]uint64{}}
	validators := []int{0, 1, 2, 3}
	var vmu sync.Mutex
	l := startLoad(t, c, func() []int {
		vmu.Lock()
		defer vmu.Unlock()
		return slices.Clone(validators)
	})

	// The follower keeps up without validating, and forwards what it is
	// sent to the validators.
	waitHeight(t, c, 4, 3, switchBound)
	if c.Nodes[4].Eng.Validating() {
		t.Fatal("the follower runs an engine")
	}
	viaFollower := c.NewClient()
	for i := 0; i < 5; i++ {
		c.WaitCommitted(c.Submit(4, viaFollower.Tx(fmt.Sprintf("via-v5-%d", i))), switchBound)
	}

	// Add v5: proposal and two more votes make 3 of 4.
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v5", PubKey: hex.EncodeToString(c.Key(4).Public().Bytes()), Addr: "sim:5"}
	prop, _ := g.send(t, 0, "propose", add)
	g.send(t, 1, "vote", valset.VoteArgs{Proposal: prop})
	_, changed := g.send(t, 2, "vote", valset.VoteArgs{Proposal: prop})
	t.Logf("v5 added at height %d", changed)
	took := waitHeight(t, c, 4, changed+1, switchBound)
	t.Logf("first block of the 5-validator set committed on v5 %v after the change was acknowledged", took)
	vmu.Lock()
	validators = append(validators, 4)
	vmu.Unlock()
	// v5 (index 4) signs certificates once the new set runs.
	deadline := time.Now().Add(switchBound)
	for h := changed + 1; ; h++ {
		waitHeight(t, c, 0, h, switchBound)
		if slices.Contains(signers(t, c, 0, h), 4) {
			t.Logf("v5 signs the certificate of block %d", h)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v5 signed no certificate in blocks %d..%d", changed+1, h)
		}
	}
	waitFor(t, "v5 to run an engine", c.Nodes[4].Eng.Validating)

	vmu.Lock()
	validators = []int{1, 2, 3, 4}
	vmu.Unlock()
	// Remove v1: a quorum of 5 (4 of them Byzantine-tolerant, 3 a majority).
	prop, _ = g.send(t, 1, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v1"})
	vs, _ := c.Nodes[1].Rep.NextValidators()
	var removed uint64
	for _, v := range []int{2, 3, 4}[:vs.Quorum()-1] {
		_, removed = g.send(t, v, "vote", valset.VoteArgs{Proposal: prop})
	}
	t.Logf("v1 removed at height %d", removed)
	took = waitHeight(t, c, 1, removed+1, switchBound)
	t.Logf("first block of the set without v1 committed %v after the change was acknowledged", took)
	waitHeight(t, c, 0, removed+1, switchBound) // v1 follows
	waitFor(t, "removed v1 to stop its engine", func() bool { return !c.Nodes[0].Eng.Validating() })
	for i := 0; i < 5; i++ {
		c.WaitCommitted(c.Submit(0, viaFollower.Tx(fmt.Sprintf("via-v1-%d", i))), switchBound)
	}

	// Stop v1: the four others go on.
	c.Stop(0)
	sent := l.finish(t)
	t.Logf("%d load transactions committed; heights %v", sent, c.Heights())
	c.Check()
}

// TestRaftLeftBehindValidatorCatchesUp: a Raft validator is down while
// governance adds a fifth validator and the new set orders blocks. It
// comes back below the change, where its old set's cluster is gone (the
// others stopped those engines): a peer's notice that the set ended stops
// its old engine, it fetches the blocks up to the change by sync and joins
// the new set's cluster, and signs certificates again.
func TestRaftLeftBehindValidatorCatchesUp(t *testing.T) {
	leftBehind(t, chain.ConsensusRaft, 37, func(c *simnet.Cluster[*member.Runner], away bool) {
		if away {
			c.Stop(3)
		} else {
			c.Start(3)
		}
	})
}

// TestRaftIsolatedValidatorCatchesUp is the same with the validator cut
// off the network, its engine running throughout.
func TestRaftIsolatedValidatorCatchesUp(t *testing.T) {
	leftBehind(t, chain.ConsensusRaft, 39, func(c *simnet.Cluster[*member.Runner], away bool) {
		c.Net.Split([]uint64{4}, []uint64{1, 2, 3, 5}, away)
	})
}

// TestLeftBehindUntold: v4 is down through the change, and every other
// node restarts before it comes back, so none remembers the set it left
// and nobody tells v4 its set ended. Its probe finds f+1 validators ahead
// while its engine commits nothing: it stops the engine, fetches the
// blocks and joins the new set (BFT and Raft).
func TestLeftBehindUntold(t *testing.T) {
	for _, kind := range []string{chain.ConsensusBFT, chain.ConsensusRaft} {
		t.Run(kind, func(t *testing.T) {
			leftBehind(t, kind, 43, func(c *simnet.Cluster[*member.Runner], away bool) {
				if away {
					c.Stop(3)
					return
				}
				for _, i := range []int{0, 1, 2, 4} {
					c.Stop(i)
					c.Start(i)
				}
				c.Start(3)
			})
		})
	}
}

// leftBehind runs 4 validators (of kind) and a follower; v4 is away
// (away(c, true)) while governance adds the follower v5 and the new set
// commits a block, then back (away(c, false)): it must pass the change, run
// the new set's engine and sign a certificate.
func leftBehind(t *testing.T, kind string, seed uint64, away func(c *simnet.Cluster[*member.Runner], away bool)) {
	c := newCluster(t, kind, 4, 1, simnet.Seed(t, "BFT_SEED", seed))
	g := &gov{c: c, nonces: map[int]uint64{}, only: true} // v4 does not commit while away
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("warm")), switchBound)
	away(c, true)
	left := c.Nodes[0].Rep.Head().Height
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v5", PubKey: hex.EncodeToString(c.Key(4).Public().Bytes()), Addr: "sim:5"}
	prop, _ := g.send(t, 0, "propose", add)
	g.send(t, 1, "vote", valset.VoteArgs{Proposal: prop})
	_, changed := g.send(t, 2, "vote", valset.VoteArgs{Proposal: prop})
	var after []crypto.Hash
	for i := 0; i < 3; i++ {
		after = append(after, c.Submit(i, cl.Tx(fmt.Sprintf("after%d", i))))
	}
	// Committed before v4 comes back: away may restart nodes, which would
	// lose them from pools and leave the client's later nonces a gap.
	ctx, cancel := context.WithTimeout(context.Background(), switchBound)
	defer cancel()
	for _, id := range after {
		if _, _, err := c.Nodes[0].Rep.WaitTx(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitHeight(t, c, 4, changed+1, switchBound)
	t.Logf("v4 away at height %d; v5 added at %d; head %d", left, changed, c.Nodes[0].Rep.Head().Height)

	away(c, false)
	took := waitHeight(t, c, 3, changed+1, switchBound)
	t.Logf("v4 passed the change %v after it came back", took)
	waitFor(t, "v4 to run the new set's engine", c.Nodes[3].Eng.Validating)
	// v4 orders again: later blocks commit on it, and it signs one.
	deadline := time.Now().Add(switchBound)
	for k := 0; ; k++ {
		id := c.Submit(3, cl.Tx(fmt.Sprintf("back%d", k)))
		c.WaitCommitted(id, switchBound)
		_, h, _, err := c.Nodes[3].Rep.TxState(id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(signers(t, c, 3, h), 3) {
			t.Logf("v4 signs the certificate of block %d", h)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v4 signed no certificate up to block %d", h)
		}
	}
	c.Check()
}
