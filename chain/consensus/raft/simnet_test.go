package raft

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/records"
)

// simnet is an in-process network with seeded faults: loss, delay and
// partitions. Each node has a bounded inbox drained by one goroutine.
type simnet struct {
	mu      sync.Mutex
	rng     *rand.Rand
	loss    float64
	delay   time.Duration
	cut     map[[2]uint64]bool // directed links that drop everything
	inboxes map[uint64]chan simMsg
	engines map[uint64]*Engine
}

type simMsg struct {
	from uint64
	data []byte
}

func newSimnet(seed uint64) *simnet {
	return &simnet{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cut: map[[2]uint64]bool{}, inboxes: map[uint64]chan simMsg{}, engines: map[uint64]*Engine{}}
}

func (n *simnet) attach(id uint64, e *Engine) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.engines[id] = e
	if n.inboxes[id] == nil {
		in := make(chan simMsg, 10000)
		n.inboxes[id] = in
		go func() {
			for m := range in {
				n.mu.Lock()
				e := n.engines[id]
				n.mu.Unlock()
				if e != nil {
					e.Receive(m.from, m.data)
				}
			}
		}()
	}
}

func (n *simnet) detach(id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.engines[id] = nil
}

// split cuts every link between the two sides (heal with on = false).
func (n *simnet) split(a, b []uint64, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.cut[[2]uint64{x, y}] = on
			n.cut[[2]uint64{y, x}] = on
		}
	}
}

func (n *simnet) send(from, to uint64, data []byte) {
	n.mu.Lock()
	drop := n.cut[[2]uint64{from, to}] || (n.loss > 0 && n.rng.Float64() < n.loss)
	var d time.Duration
	if n.delay > 0 {
		d = time.Duration(n.rng.Int64N(int64(n.delay)))
	}
	in := n.inboxes[to]
	n.mu.Unlock()
	if drop || in == nil {
		return
	}
	m := simMsg{from, append([]byte(nil), data...)}
	if d > 0 {
		time.AfterFunc(d, func() { trySend(in, m) })
		return
	}
	trySend(in, m)
}

func trySend(in chan simMsg, m simMsg) {
	select {
	case in <- m:
	default: // a full inbox drops, like a slow peer on a real link
	}
}

type endpoint struct {
	net  *simnet
	self uint64
}

func (e endpoint) Send(to uint64, msg []byte) { e.net.send(e.self, to, msg) }

// seed returns RAFT_SEED if set, else def; tests log it for replay.
func seed(t testing.TB, def uint64) uint64 {
	if s := os.Getenv("RAFT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		def = v
	}
	t.Logf("simulated network seed %d (replay with RAFT_SEED=%d)", def, def)
	return def
}

// cluster is n validators of one Raft chain, each with its own ledger and
// Raft directory.
type cluster struct {
	t       testing.TB
	dir     string
	suite   crypto.Suite
	keys    []crypto.PrivateKey
	genesis *chain.Genesis
	net     *simnet
	tune    func(*Config)
	nodes   []*member
	// acked are transactions acknowledged as committed (WaitTx returned).
	ackMu sync.Mutex
	acked map[crypto.Hash]bool
}

type member struct {
	id     uint64
	rep    *replica.Replica
	eng    *Engine
	cancel context.CancelFunc
	done   chan error
}

func newCluster(t testing.TB, n int, seed uint64, tune func(*Config)) *cluster {
	t.Helper()
	s := ed25519sha256.New()
	c := &cluster{t: t, dir: t.TempDir(), suite: s, net: newSimnet(seed), tune: tune, acked: map[crypto.Hash]bool{}}
	vs := chain.ValidatorSet{CrashFaultOnly: true}
	for i := 0; i < n; i++ {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		vs.Validators = append(vs.Validators, chain.Validator{ID: fmt.Sprintf("v%d", i+1), PubKey: k.Public().Bytes()})
	}
	c.genesis = &chain.Genesis{ChainID: "health", Kind: chain.KindDepartment, Suite: s.Name(), Consensus: chain.ConsensusRaft,
		Time: 1_700_000_000_000, Validators: vs, Modules: []string{records.Name}}
	c.nodes = make([]*member, n)
	for i := range c.nodes {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

// testConfig is fast Raft timing for the simulated network.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 150*time.Millisecond, 300*time.Millisecond
	cfg.LeaderLeaseTimeout, cfg.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	cfg.RPCTimeout, cfg.VoteRetry, cfg.ForwardRetry = 300*time.Millisecond, 100*time.Millisecond, time.Second
	cfg.RestoreTimeout = 20 * time.Second
	return cfg
}

func (c *cluster) start(i int) {
	c.t.Helper()
	reg, err := module.NewRegistry(records.Module{})
	if err != nil {
		c.t.Fatal(err)
	}
	home := filepath.Join(c.dir, fmt.Sprintf("n%d", i+1))
	rep, err := replica.Open(replica.Config{Genesis: c.genesis, Suite: c.suite, Registry: reg, Dir: filepath.Join(home, "ledger")})
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := testConfig()
	cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = c.genesis.ChainID, rep, c.suite, c.keys[i]
	cfg.Validators, cfg.SelfID = c.genesis.Validators, c.genesis.Validators.Validators[i].ID
	cfg.Net, cfg.Dir = endpoint{c.net, uint64(i + 1)}, filepath.Join(home, "raft")
	if os.Getenv("RAFT_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i+1)
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	rep.SetSink(eng)
	c.net.attach(uint64(i+1), eng)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{id: uint64(i + 1), rep: rep, eng: eng, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- eng.Run(ctx) }()
	c.nodes[i] = m
}

// stop crashes node i: it stops receiving at once, its engine stops, its
// disk stays.
func (c *cluster) stop(i int) {
	m := c.nodes[i]
	if m == nil {
		return
	}
	c.net.detach(m.id)
	m.cancel()
	if err := <-m.done; err != nil {
		c.t.Errorf("node %d: %v", m.id, err)
	}
	m.rep.Close()
	c.nodes[i] = nil
}

// leader waits until the running nodes agree on a leader and returns its index.
func (c *cluster) leader(within time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for i, m := range c.nodes {
			if m != nil && m.eng.isLeader() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("no leader within %v", within)
	return -1
}

type client struct {
	s     crypto.Suite
	k     crypto.PrivateKey
	nonce uint64
}

func newClient(s crypto.Suite) *client {
	k, err := s.GenerateKey(crand.Reader)
	if err != nil {
		panic(err)
	}
	return &client{s: s, k: k}
}

func (cl *client) tx(id string) *chain.Tx {
	tx := &chain.Tx{ChainID: "health", Nonce: cl.nonce, Module: records.Name, Method: "put", Args: fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id)}
	cl.nonce++
	if err := tx.Sign(cl.s, cl.k); err != nil {
		panic(err)
	}
	return tx
}

// submit retries while the node refuses (no leader yet).
func (c *cluster) submit(i int, tx *chain.Tx) crypto.Hash {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, err := c.nodes[i].rep.Submit(tx)
		if err == nil {
			return id
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("submit to node %d: %v", i+1, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCommitted waits until every running node has the tx and records it
// as acknowledged.
func (c *cluster) waitCommitted(id crypto.Hash, within time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for _, m := range c.nodes {
		if m == nil {
			continue
		}
		if _, _, err := m.rep.WaitTx(ctx, id); err != nil {
			c.t.Fatalf("node %d: tx %s not committed within %v (height %d)", m.id, id, within, m.rep.Ledger().Height())
		}
	}
	c.ackMu.Lock()
	c.acked[id] = true
	c.ackMu.Unlock()
}

// heights returns every running node's height.
func (c *cluster) heights() []uint64 {
	var hs []uint64
	for _, m := range c.nodes {
		if m != nil {
			hs = append(hs, m.rep.Ledger().Height())
		}
	}
	return hs
}

// check is the safety checker: no two running nodes hold different blocks
// at any common height (header hashes, hence state roots, agree), every
// block's certificate verifies with the validator set alone, and every
// acknowledged transaction is in exactly one block.
func (c *cluster) check() {
	c.t.Helper()
	var ref *member
	for _, m := range c.nodes {
		if m != nil && (ref == nil || m.rep.Ledger().Height() > ref.rep.Ledger().Height()) {
			ref = m
		}
	}
	if ref == nil {
		return
	}
	led := ref.rep.Ledger()
	seen := map[crypto.Hash]uint64{}
	for h := uint64(1); h <= led.Height(); h++ {
		b, err := led.Block(h)
		if err != nil {
			c.t.Fatalf("node %d block %d: %v", ref.id, h, err)
		}
		if err := chain.VerifyCommit(c.suite, &c.genesis.Validators, &b.Header, &b.Commit); err != nil {
			c.t.Fatalf("block %d certificate: %v", h, err)
		}
		for _, id := range b.TxIDs(c.suite) {
			if prev, dup := seen[id]; dup {
				c.t.Fatalf("tx %s in blocks %d and %d", id, prev, h)
			}
			seen[id] = h
		}
		for _, m := range c.nodes {
			if m == nil || m == ref || m.rep.Ledger().Height() < h {
				continue
			}
			o, _, err := m.rep.Ledger().Header(h)
			if err != nil {
				c.t.Fatalf("node %d header %d: %v", m.id, h, err)
			}
			if o.Hash(c.suite) != b.Header.Hash(c.suite) || o.StateRoot != b.Header.StateRoot {
				c.t.Fatalf("fork at height %d between nodes %d and %d", h, ref.id, m.id)
			}
		}
	}
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	for id := range c.acked {
		if _, ok := seen[id]; !ok {
			c.t.Fatalf("acknowledged tx %s is in no block of node %d (height %d)", id, ref.id, led.Height())
		}
	}
}
