package simnet

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
)

// ChainID is the cluster's chain.
const ChainID = "health"

// Engine is what a cluster runs on each node: a consensus engine that
// takes the node's inbound messages and its replica's admitted
// transactions.
type Engine interface {
	consensus.Engine
	consensus.Receiver
	replica.TxSink
}

// Node is what a cluster hands an engine constructor for node Index
// (0-based; its node number on the network is Index+1).
type Node struct {
	Index   int
	Genesis *chain.Genesis
	Suite   crypto.Suite
	Key     crypto.PrivateKey // the node's validator key
	SelfID  string            // its validator ID
	Rep     *replica.Replica  // its ledger, mempool and executor
	Net     consensus.Network // its endpoint on the simulated network
	Dir     string            // a directory of its own for the engine's files, kept across restarts
	Logger  *slog.Logger      // debug output when DebugEnv is set, else nil
	// IDs are every node's ID, validators then followers: node number k
	// is IDs[k-1].
	IDs []string
}

// Config describes a cluster.
type Config[E Engine] struct {
	Validators int
	// Followers are further nodes (IDs after the validators') in no
	// genesis set; the valset module can add them.
	Followers int
	// Governance lists the valset module in the genesis.
	Governance bool
	Seed       uint64
	// Consensus is the genesis's engine kind (chain.ConsensusBFT or
	// chain.ConsensusRaft, which also makes the set crash-fault-only).
	Consensus string
	Workload  Workload
	// DebugEnv names an environment variable that, when set, gives every
	// engine a debug logger on stderr.
	DebugEnv string
	// Open builds node n's engine; the cluster connects and runs it.
	Open func(n Node) (E, error)
	// Ledger tunes every node's ledger (block retention).
	Ledger ledger.Options
}

// Cluster is validators of one chain on a simulated network, each with its
// own ledger and engine directory under a test directory.
type Cluster[E Engine] struct {
	T       testing.TB
	Suite   crypto.Suite
	Genesis *chain.Genesis
	Net     *Net
	// Nodes are the validators, then the followers; a stopped one is nil.
	Nodes []*Member[E]

	cfg  Config[E]
	dir  string
	keys []crypto.PrivateKey
	ids  []string
	// acked are transactions acknowledged as committed (WaitCommitted
	// returned); Check proves each is in exactly one block.
	ackMu sync.Mutex
	acked map[crypto.Hash]bool
}

// Member is one running validator.
type Member[E Engine] struct {
	ID     uint64 // node number
	Rep    *replica.Replica
	Eng    E
	cancel context.CancelFunc
	done   chan error
}

// NewCluster starts cfg.Validators nodes; they stop when the test ends.
func NewCluster[E Engine](t testing.TB, cfg Config[E]) *Cluster[E] {
	t.Helper()
	s := ed25519sha256.New()
	c := &Cluster[E]{T: t, Suite: s, Net: New(cfg.Seed), cfg: cfg, dir: t.TempDir(), acked: map[crypto.Hash]bool{}}
	vs := chain.ValidatorSet{CrashFaultOnly: cfg.Consensus == chain.ConsensusRaft}
	for i := 0; i < cfg.Validators+cfg.Followers; i++ {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		c.ids = append(c.ids, fmt.Sprintf("v%d", i+1))
		if i < cfg.Validators {
			vs.Validators = append(vs.Validators, chain.Validator{ID: c.ids[i], PubKey: k.Public().Bytes()})
		}
	}
	c.Genesis = &chain.Genesis{ChainID: ChainID, Kind: chain.KindDepartment, Suite: s.Name(), Consensus: cfg.Consensus,
		Time: 1_700_000_000_000, Validators: vs, Modules: []string{cfg.Workload.Module.Name()}}
	if cfg.Governance {
		c.Genesis.Modules = append(c.Genesis.Modules, valset.Name)
	}
	c.Nodes = make([]*Member[E], len(c.ids))
	for i := range c.Nodes {
		c.Start(i)
	}
	t.Cleanup(func() {
		for i := range c.Nodes {
			c.Stop(i)
		}
	})
	return c
}

// Start starts node i (again) on its data.
func (c *Cluster[E]) Start(i int) {
	c.T.Helper()
	mods := []module.Module{c.cfg.Workload.Module}
	if c.cfg.Governance {
		m, err := module.Configure(valset.Module{}, module.Env{ChainID: ChainID, Suite: c.Suite, Validators: &c.Genesis.Validators})
		if err != nil {
			c.T.Fatal(err)
		}
		mods = append(mods, m)
	}
	reg, err := module.NewRegistry(mods...)
	if err != nil {
		c.T.Fatal(err)
	}
	home := filepath.Join(c.dir, fmt.Sprintf("n%d", i+1))
	rep, err := replica.Open(replica.Config{Genesis: c.Genesis, Suite: c.Suite, Registry: reg, Dir: filepath.Join(home, "ledger"), Ledger: c.cfg.Ledger})
	if err != nil {
		c.T.Fatal(err)
	}
	id := uint64(i + 1)
	n := Node{Index: i, Genesis: c.Genesis, Suite: c.Suite, Key: c.keys[i], SelfID: c.ids[i],
		Rep: rep, Net: c.Net.Endpoint(id), Dir: filepath.Join(home, "engine"), IDs: c.ids}
	if c.cfg.DebugEnv != "" && os.Getenv(c.cfg.DebugEnv) != "" {
		n.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
	}
	eng, err := c.cfg.Open(n)
	if err != nil {
		rep.Close()
		c.T.Fatal(err)
	}
	rep.SetSink(eng)
	c.Net.Attach(id, eng)
	ctx, cancel := context.WithCancel(context.Background())
	m := &Member[E]{ID: id, Rep: rep, Eng: eng, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- eng.Run(ctx) }()
	c.Nodes[i] = m
}

// Stop crashes node i: it stops receiving at once, its engine stops, its
// disk stays.
func (c *Cluster[E]) Stop(i int) {
	if err := c.StopErr(i); err != nil {
		c.T.Errorf("node %d: %v", i+1, err)
	}
}

// StopErr is Stop returning the engine's error for the test to judge.
func (c *Cluster[E]) StopErr(i int) error {
	m := c.Nodes[i]
	if m == nil {
		return nil
	}
	c.Net.Detach(m.ID)
	m.cancel()
	err := <-m.done
	m.Rep.Close()
	c.Nodes[i] = nil
	return err
}

// Key returns node i's key (its validator key when it validates).
func (c *Cluster[E]) Key(i int) crypto.PrivateKey { return c.keys[i] }

// Submit hands tx to node i, retrying while it refuses (no leader yet).
func (c *Cluster[E]) Submit(i int, tx *chain.Tx) crypto.Hash {
	c.T.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, err := c.Nodes[i].Rep.Submit(tx)
		if err == nil {
			return id
		}
		if time.Now().After(deadline) {
			c.T.Fatalf("submit to node %d: %v", i+1, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SubmitSpread submits n transactions from cl labelled label0, label1, …,
// the i-th to node i mod the cluster size, and returns the last one's ID.
func (c *Cluster[E]) SubmitSpread(cl *Client, n int, label string) crypto.Hash {
	c.T.Helper()
	var last crypto.Hash
	for i := 0; i < n; i++ {
		last = c.Submit(i%len(c.Nodes), cl.Tx(fmt.Sprintf("%s%d", label, i)))
	}
	return last
}

// WaitCommitted waits until every running node has committed the tx and
// records it as acknowledged. A node that began from a state snapshot
// above the tx's block does not know it and is skipped.
func (c *Cluster[E]) WaitCommitted(id crypto.Hash, within time.Duration) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	nodes := slices.DeleteFunc(slices.Clone(c.Nodes), func(m *Member[E]) bool { return m == nil })
	slices.SortStableFunc(nodes, func(a, b *Member[E]) int { return cmp.Compare(a.Rep.Base(), b.Rep.Base()) })
	at := uint64(0) // the tx's height, once a node has it
	for _, m := range nodes {
		for {
			next := m.Rep.Committed()
			st, h, _, err := m.Rep.TxState(id)
			if err == nil && st == replica.TxCommitted {
				at = h
				break
			}
			if at > 0 && m.Rep.Base() > at {
				break
			}
			select {
			case <-ctx.Done():
				c.T.Fatalf("node %d: tx %s not committed within %v (height %d)", m.ID, id, within, m.Rep.Ledger().Height())
			case <-next:
			}
		}
	}
	c.ackMu.Lock()
	c.acked[id] = true
	c.ackMu.Unlock()
}

// AssertStalled waits up to within for tx id and fails if a node commits it
// or if any node's height moves from before (Heights, taken when the fault
// began): what a partition without a quorum on either side must give.
func (c *Cluster[E]) AssertStalled(before []uint64, id crypto.Hash, within time.Duration) {
	c.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for _, m := range c.Nodes {
		if m == nil {
			continue
		}
		if _, _, err := m.Rep.WaitTx(ctx, id); err == nil {
			c.T.Fatalf("node %d committed tx %s while no quorum could form", m.ID, id)
		}
	}
	for i, h := range c.Heights() {
		if h != before[i] {
			c.T.Fatalf("running node %d of the cluster advanced from %d to %d while no quorum could form", i+1, before[i], h)
		}
	}
}

// Heights returns every running node's height, in node order.
func (c *Cluster[E]) Heights() []uint64 {
	var hs []uint64
	for _, m := range c.Nodes {
		if m != nil {
			hs = append(hs, m.Rep.Ledger().Height())
		}
	}
	return hs
}
