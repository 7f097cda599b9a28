package smartbft

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// heldApp is an App whose commits wait for release; it records the heights
// committed, in order. Only what deliver uses is implemented.
type heldApp struct {
	App
	release chan struct{}
	fail    uint64 // height whose commit fails

	mu      sync.Mutex
	head    chain.Header
	heights []uint64
}

func (a *heldApp) Head() chain.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.head
}

func (a *heldApp) Deliver(b *chain.Block) error {
	<-a.release
	if b.Header.Height == a.fail {
		return errors.New("disk full")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.head = b.Header
	a.heights = append(a.heights, b.Header.Height)
	return nil
}

func (a *heldApp) committed() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]uint64(nil), a.heights...)
}

func block(h uint64) *chain.Block { return &chain.Block{Header: chain.Header{ChainID: "c", Height: h}} }

// settled runs settle in the background and returns its result channel.
func settled(e *Engine) <-chan error {
	out := make(chan error, 1)
	go func() { out <- e.settle() }()
	return out
}

// TestPipelineOrderAndSettle: commitAsync returns before the commit, commits
// in decision order, and settle returns only once every handed-over block is
// in the ledger.
func TestPipelineOrderAndSettle(t *testing.T) {
	app := &heldApp{release: make(chan struct{})}
	e := &Engine{cfg: Config{App: app}, failed: make(chan struct{})}
	if err := e.settle(); err != nil {
		t.Fatalf("settle with nothing handed over: %v", err)
	}
	for h := uint64(1); h <= 3; h++ {
		e.commitAsync(block(h)) // returns although every commit is held
	}
	done := settled(e)
	select {
	case err := <-done:
		t.Fatalf("settle returned (%v) while three commits were held", err)
	case <-time.After(50 * time.Millisecond):
	}
	app.release <- struct{}{}
	app.release <- struct{}{}
	select {
	case err := <-done:
		t.Fatalf("settle returned (%v) with block 3 still held", err)
	case <-time.After(50 * time.Millisecond):
	}
	app.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := app.committed(); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("committed %v, want [1 2 3]", got)
	}
}

// TestPipelineFailureStops: a commit that fails fails the engine, no later
// block is committed over the gap, and settle reports the failure.
func TestPipelineFailureStops(t *testing.T) {
	app := &heldApp{release: make(chan struct{}), fail: 2}
	close(app.release)
	e := &Engine{cfg: Config{App: app}, failed: make(chan struct{})}
	for h := uint64(1); h <= 3; h++ {
		e.commitAsync(block(h))
	}
	if err := e.settle(); err == nil {
		t.Fatal("settle reported no error after block 2 failed")
	}
	select {
	case <-e.failed:
	default:
		t.Fatal("engine not failed")
	}
	if got := app.committed(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("committed %v, want [1]: nothing may be committed past a failed block", got)
	}
}

// slowApp wraps a replica with slow commits and counts every proposal built
// or verified while a decided block was still committing: the pipeline's
// rule is that there are none.
type slowApp struct {
	App
	delay      time.Duration
	committing atomic.Int32
	overlaps   atomic.Int32
	delivered  atomic.Int32
}

func (a *slowApp) Deliver(b *chain.Block) error {
	a.committing.Add(1)
	defer a.committing.Add(-1)
	time.Sleep(a.delay)
	a.delivered.Add(1)
	return a.App.Deliver(b)
}

func (a *slowApp) Build(proposer string, time uint64, txs []*chain.Tx) (*chain.Block, error) {
	if a.committing.Load() > 0 {
		a.overlaps.Add(1)
	}
	return a.App.Build(proposer, time, txs)
}

func (a *slowApp) Verify(b *chain.Block) error {
	if a.committing.Load() > 0 {
		a.overlaps.Add(1)
	}
	return a.App.Verify(b)
}

// TestBFTPipelineWaitsForCommit: with commits slower than the batch
// interval, the cluster orders and agrees, and no node built or verified a
// proposal on a head whose successor was still committing.
func TestBFTPipelineWaitsForCommit(t *testing.T) {
	var apps []*slowApp
	var mu sync.Mutex
	c := newClusterWith(t, 4, seed(t, 21), func(cfg *Config) {
		app := &slowApp{App: cfg.App, delay: 30 * time.Millisecond}
		mu.Lock()
		apps = append(apps, app)
		mu.Unlock()
		cfg.App = app
		cfg.BatchMaxInterval = 5 * time.Millisecond
	})
	cl := c.NewClient()
	for i := 0; i < 5; i++ {
		c.WaitCommitted(c.SubmitSpread(cl, 40, "p"+string(rune('a'+i))), 30*time.Second)
	}
	c.Check()
	mu.Lock()
	defer mu.Unlock()
	var delivered int32
	for i, a := range apps {
		if n := a.overlaps.Load(); n > 0 {
			t.Errorf("node %d built or verified %d proposals while a decided block was committing", i+1, n)
		}
		delivered += a.delivered.Load()
	}
	if delivered < 8 {
		t.Fatalf("only %d slow commits across the cluster; the test exercised nothing", delivered)
	}
}

// TestBFTReadyCountSkipsTimer: a pool holding BatchReadyCount requests is
// proposed without waiting for the batch interval, and the proposal takes
// every pooled request up to BatchMaxCount, not only BatchReadyCount.
func TestBFTReadyCountSkipsTimer(t *testing.T) {
	const ready = 4
	c := newClusterWith(t, 4, seed(t, 22), func(cfg *Config) {
		cfg.BatchMaxInterval = time.Minute
		cfg.BatchReadyCount = ready
	})
	cl := c.NewClient()
	const n = 40
	ids := make([]crypto.Hash, n)
	for i := range ids {
		ids[i] = c.Submit(i%4, cl.Tx(fmt.Sprintf("r%d", i)))
	}
	// While ready requests are pooled the leader proposes, so at most
	// ready-1 can be left waiting for the (minute-long) interval.
	c.WaitCommitted(ids[n-ready], 30*time.Second)
	led := c.Nodes[0].Rep.Ledger()
	most := 0
	for h := uint64(1); h <= led.Height(); h++ {
		b, err := led.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(b.Txs))
	}
	if most <= ready {
		t.Fatalf("largest block has %d transactions: proposals took only SmartBFT's batch of %d", most, ready)
	}
	t.Logf("%d blocks, largest %d transactions", led.Height(), most)
}

// TestBFTEmptyProposalWaits: when the leader's pool holds BatchReadyCount
// requests that no block can include yet (their sender's earlier nonce is
// missing), the leader proposes empty blocks at the batch interval, not as
// fast as consensus runs.
func TestBFTEmptyProposalWaits(t *testing.T) {
	const ready, interval = 4, 200 * time.Millisecond
	c := newClusterWith(t, 4, seed(t, 23), func(cfg *Config) {
		cfg.BatchMaxInterval = interval
		cfg.BatchReadyCount = ready
	})
	cl := c.NewClient()
	c.WaitCommitted(c.Submit(0, cl.Tx("first")), 30*time.Second)
	lead := c.Nodes[0].Eng.consensus().GetLeaderID()
	leader := c.Nodes[lead-1].Eng.consensus()
	gap := c.NewClient()
	gap.Tx("never sent") // nonce 0 is missing
	for i := 0; i < 2*ready; i++ {
		if err := leader.SubmitRequest(gap.Tx(fmt.Sprintf("g%d", i)).Encode()); err != nil {
			t.Fatal(err)
		}
	}
	led := c.Nodes[lead-1].Rep.Ledger()
	from := led.Height()
	const window = 2 * time.Second
	time.Sleep(window)
	// One empty block per interval, plus slack for the one in flight.
	if n, most := led.Height()-from, uint64(window/interval)+2; n > most {
		t.Fatalf("%d blocks in %v with nothing to include; want at most %d (one per batch interval)", n, window, most)
	}
}
