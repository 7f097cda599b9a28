package smartbft

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	mutate  func(from, to uint64, data []byte) []byte
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

// isolate cuts every link to and from id (heal with isolate(id, false)).
func (n *simnet) isolate(id uint64, on bool, all []uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range all {
		n.cut[[2]uint64{id, o}] = on
		n.cut[[2]uint64{o, id}] = on
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
	m := simMsg{from, append([]byte(nil), data...)}
	if n.mutate != nil && !drop {
		m.data = n.mutate(from, to, m.data) // under mu: it may use n.rng
	}
	n.mu.Unlock()
	if drop || in == nil || m.data == nil {
		return
	}
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

// cluster is n validators of one chain, each with its own ledger and WAL.
type cluster struct {
	t       testing.TB
	rotate  bool
	dir     string
	suite   crypto.Suite
	keys    []crypto.PrivateKey
	genesis *chain.Genesis
	net     *simnet
	nodes   []*member
}

type member struct {
	id     uint64
	rep    *replica.Replica
	eng    *Engine
	cancel context.CancelFunc
	done   chan error
}

func newCluster(t testing.TB, n int, seed uint64) *cluster {
	return newClusterWith(t, n, seed, false)
}

func newBenchCluster(b *testing.B, rotate bool) *cluster { return newClusterWith(b, 4, 1, rotate) }

func newClusterWith(t testing.TB, n int, seed uint64, rotate bool) *cluster {
	t.Helper()
	s := ed25519sha256.New()
	c := &cluster{t: t, dir: t.TempDir(), suite: s, net: newSimnet(seed), rotate: rotate}
	var vs chain.ValidatorSet
	for i := 0; i < n; i++ {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		vs.Validators = append(vs.Validators, chain.Validator{ID: fmt.Sprintf("v%d", i+1), PubKey: k.Public().Bytes()})
	}
	c.genesis = &chain.Genesis{ChainID: "health", Kind: chain.KindDepartment, Suite: s.Name(), Consensus: chain.ConsensusBFT,
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
	cfg := DefaultConfig()
	cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = c.genesis.ChainID, rep, c.suite, c.keys[i]
	cfg.Validators, cfg.SelfID = c.genesis.Validators, c.genesis.Validators.Validators[i].ID
	cfg.Net, cfg.WALDir = endpoint{c.net, uint64(i + 1)}, filepath.Join(home, "wal")
	cfg.ViewChangeTimeout, cfg.RequestComplainTimeout = 2*time.Second, 2*time.Second
	cfg.LeaderRotation = c.rotate
	cfg.StuckAfter = 3 * time.Second
	if os.Getenv("BFT_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i+1)
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

// stop crashes node i (its engine stops; its disk stays).
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

type client struct {
	s     crypto.Suite
	k     crypto.PrivateKey
	nonce uint64
}

func newClient(t testing.TB, s crypto.Suite) *client {
	k, err := s.GenerateKey(crand.Reader)
	if err != nil {
		panic(err)
	}
	return &client{s: s, k: k}
}

// txB is tx for benchmarks (no *testing.T).
func (cl *client) txB(id string) *chain.Tx {
	tx := &chain.Tx{ChainID: "health", Nonce: cl.nonce, Module: records.Name, Method: "put", Args: fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id)}
	cl.nonce++
	if err := tx.Sign(cl.s, cl.k); err != nil {
		panic(err)
	}
	return tx
}

func (cl *client) tx(t *testing.T, id string) *chain.Tx {
	tx := &chain.Tx{ChainID: "health", Nonce: cl.nonce, Module: records.Name, Method: "put", Args: fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id)}
	cl.nonce++
	if err := tx.Sign(cl.s, cl.k); err != nil {
		t.Fatal(err)
	}
	return tx
}

// submit retries while no leader is up yet.
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

// waitCommitted waits until every running node has the tx.
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
}

// checkAgreement asserts no two running nodes differ at any common height.
func (c *cluster) checkAgreement() {
	c.t.Helper()
	var ref *member
	for _, m := range c.nodes {
		if m == nil {
			continue
		}
		if ref == nil {
			ref = m
			continue
		}
		h := min(ref.rep.Ledger().Height(), m.rep.Ledger().Height())
		for k := uint64(1); k <= h; k++ {
			a, _, err1 := ref.rep.Ledger().Header(k)
			b, _, err2 := m.rep.Ledger().Header(k)
			if err1 != nil || err2 != nil {
				c.t.Fatalf("height %d: %v %v", k, err1, err2)
			}
			if a.Hash(c.suite) != b.Hash(c.suite) {
				c.t.Fatalf("fork at height %d between nodes %d and %d", k, ref.id, m.id)
			}
		}
	}
}

func TestBFTOrdersAndCertifies(t *testing.T) {
	c := newCluster(t, 4, 1)
	cl := newClient(t, c.suite)
	var last crypto.Hash
	for i := 0; i < 50; i++ {
		last = c.submit(i%4, cl.tx(t, fmt.Sprintf("r%d", i)))
	}
	c.waitCommitted(last, 30*time.Second)
	c.checkAgreement()
	// Every block's certificate verifies with the validator set alone.
	led := c.nodes[0].rep.Ledger()
	for h := uint64(1); h <= led.Height(); h++ {
		hdr, cm, err := led.Header(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := chain.VerifyCommit(c.suite, &c.genesis.Validators, hdr, cm); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
	}
}

func TestBFTFollowerCrashCatchesUp(t *testing.T) {
	c := newCluster(t, 4, 2)
	cl := newClient(t, c.suite)
	c.waitCommitted(c.submit(0, cl.tx(t, "a")), 30*time.Second)
	c.stop(3)
	var last crypto.Hash
	for i := 0; i < 20; i++ {
		last = c.submit(0, cl.tx(t, fmt.Sprintf("b%d", i)))
	}
	c.waitCommitted(last, 30*time.Second)
	c.start(3)
	c.waitCommitted(last, 30*time.Second) // node 4 syncs the blocks it missed
	// A decision made while node 4 was starting reaches it with the next
	// proposal (SmartBFT syncs a follower that sees a later sequence).
	for i := 0; i < 5; i++ {
		last = c.submit(i%4, cl.tx(t, fmt.Sprintf("c%d", i)))
		c.waitCommitted(last, 30*time.Second)
	}
	c.checkAgreement()
}

func TestBFTLeaderCrashViewChange(t *testing.T) {
	c := newCluster(t, 4, 3)
	cl := newClient(t, c.suite)
	c.waitCommitted(c.submit(1, cl.tx(t, "a")), 30*time.Second)
	lead := c.nodes[1].eng.consensus().GetLeaderID()
	c.stop(int(lead - 1))
	other := int(lead) % 4 // a running node
	start := time.Now()
	c.waitCommitted(c.submit(other, cl.tx(t, "b")), 60*time.Second)
	t.Logf("leader %d crashed; commit resumed after %v", lead, time.Since(start))
	c.checkAgreement()
}
