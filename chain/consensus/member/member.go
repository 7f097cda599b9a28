// Package member runs one node's part in a chain across validator set
// changes. While the set certifying the next block names the node, it runs
// a consensus engine built for that set, numbering the set's validators
// index+1 as certificates do; when a committed block changes the set (the
// valset module; the change applies from the next height on every node),
// it stops that engine and starts one for the new set from the ledger head.
// While the set does not name the node, the node follows: it fetches
// committed blocks from the set's validators (blocksync: each certificate
// checked against the set the node's own state names for that height, each
// block re-executed) until the set names it.
//
// Every node, validator or follower, serves followers' block requests on
// the chain's network (whose transport admits only authenticated peers);
// a follower forwards the transactions its clients submit to validators.
package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/blocksync"
	"github.com/polityledger/polity/chain/crypto"
)

// Message kinds the runner takes from the chain's stream before the engine
// sees it; engines use small kind bytes and never these.
const (
	kindFollowAsk  byte = 0xF0 // blocksync request from any node of the chain
	kindFollowGive byte = 0xF1 // blocksync response
	kindForward    byte = 0xF2 // a transaction a follower admitted, for a validator to order
)

// ErrFollower is returned by SubmitTx when this node follows the chain
// and reaches none of its validators.
var ErrFollower = errors.New("this node does not validate the chain now")

// App is the chain as a node holds it (implemented by replica.Replica).
type App interface {
	blocksync.Ledger
	// Deliver re-executes and commits a certified block.
	Deliver(b *chain.Block) error
	// Committed returns a channel closed at the next committed block.
	Committed() <-chan struct{}
	// PendingTxs returns up to max admitted transactions, for a new engine.
	PendingTxs(max int) []*chain.Tx
	// Submit admits a transaction (a follower's forward) for ordering.
	Submit(tx *chain.Tx) (crypto.Hash, error)
}

// Engine orders blocks for one validator set.
type Engine interface {
	consensus.Engine
	consensus.Receiver
	SubmitTx(raw []byte) error
}

// Directory numbers the nodes reachable on the chain's network.
type Directory interface {
	// Number returns the node's number on the network, 0 if it has none.
	Number(id string) uint64
	// ID returns the ID of node number n, "" if none.
	ID(n uint64) string
}

// Config of a Runner.
type Config struct {
	ChainID string
	App     App
	SelfID  string
	Dir     Directory
	// Net carries the chain's messages, addressed by Dir's numbers.
	Net consensus.Network
	// Build makes an engine for set vs, which names this node; net
	// addresses vs's validators as index+1.
	Build func(vs *chain.ValidatorSet, net consensus.Network) (Engine, error)
	// FollowEvery is a follower's pause after a round that brought nothing
	// (default 100 ms); RoundWait bounds a round (blocksync's default if 0).
	FollowEvery time.Duration
	RoundWait   time.Duration
	// MaxResubmit bounds the pending transactions handed to a new engine.
	MaxResubmit int
	// OnSet, if set, is called with each set before the runner validates
	// or follows under it (the node connects to validators it lacks).
	OnSet  func(vs *chain.ValidatorSet)
	Logger *slog.Logger
	Suite  crypto.Suite
}

// Runner is a node's part in one chain. Receive and SubmitTx are safe for
// concurrent use; Run is called once.
type Runner struct {
	cfg      Config
	sync     *blocksync.Syncer
	forwards atomic.Uint64
	mu       struct {
		sync.Mutex
		eng  Engine
		vs   *chain.ValidatorSet // eng's set
		held []heldMsg           // engine messages that came while none ran
	}
}

// heldMsg is an engine message received while no engine ran: peers that
// switched sets first ask for blocks and send votes before this node has
// switched; the next engine gets what came in the last holdFor.
type heldMsg struct {
	from uint64
	msg  []byte
	at   time.Time
}

// Bounds on held messages.
const (
	maxHeld = 1024
	holdFor = time.Second
)

var (
	_ consensus.Engine   = (*Runner)(nil)
	_ consensus.Receiver = (*Runner)(nil)
)

// New returns a runner; Run starts it.
func New(cfg Config) (*Runner, error) {
	if cfg.App == nil || cfg.Dir == nil || cfg.Net == nil || cfg.Build == nil || cfg.Suite == nil {
		return nil, errors.New("member: app, directory, network, build and suite are required")
	}
	if cfg.FollowEvery <= 0 {
		cfg.FollowEvery = 100 * time.Millisecond
	}
	if cfg.MaxResubmit <= 0 {
		cfg.MaxResubmit = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg}
	r.sync = blocksync.New(blocksync.Config{
		Suite: cfg.Suite, Ledger: cfg.App, Deliver: cfg.App.Deliver, Net: cfg.Net,
		Self: cfg.Dir.Number(cfg.SelfID), Peers: r.validatorNumbers,
		RequestKind: kindFollowAsk, ResponseKind: kindFollowGive, RoundWait: cfg.RoundWait, Logger: cfg.Logger,
	})
	return r, nil
}

// Validating reports whether an engine runs (this node is in the set).
func (r *Runner) Validating() bool {
	eng, _ := r.engine()
	return eng != nil
}

// Engine returns the running engine, nil while following.
func (r *Runner) Engine() Engine {
	eng, _ := r.engine()
	return eng
}

func (r *Runner) engine() (Engine, *chain.ValidatorSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.eng, r.mu.vs
}

func (r *Runner) setEngine(eng Engine, vs *chain.ValidatorSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.eng, r.mu.vs = eng, vs
}

// ErrStarting is returned by SubmitTx while the engine starts.
var ErrStarting = errors.New("the consensus engine is starting")

// SubmitTx hands an admitted transaction to the engine once it is ready,
// so none is stranded in an engine that never orders it. A follower
// forwards it to f+1 validators of the current set (at least one of them
// correct), which admit it as if a client had sent it.
func (r *Runner) SubmitTx(raw []byte) error {
	eng, _ := r.engine()
	if eng == nil {
		if r.validatorSoon() {
			return ErrStarting
		}
		return r.forward(raw)
	}
	if !ready(eng) {
		return ErrStarting
	}
	return eng.SubmitTx(raw)
}

func ready(eng Engine) bool {
	rd, ok := eng.(interface{ Ready() bool })
	return !ok || rd.Ready()
}

// Receive routes a message from node number from: follower sync to the
// runner's syncer, anything else to the engine if the sender is a
// validator of its set.
func (r *Runner) Receive(from uint64, msg []byte) {
	if len(msg) == 0 {
		return
	}
	switch msg[0] {
	case kindFollowAsk:
		r.sync.Serve(from, msg[1:])
	case kindFollowGive:
		r.sync.Receive(from, msg[1:])
	case kindForward:
		r.admitForwarded(from, msg[1:])
	default:
		r.mu.Lock()
		eng, vs := r.mu.eng, r.mu.vs
		if eng == nil {
			if len(r.mu.held) >= maxHeld {
				r.mu.held = append(r.mu.held[:0], r.mu.held[maxHeld/2:]...)
			}
			r.mu.held = append(r.mu.held, heldMsg{from, msg, time.Now()})
		}
		r.mu.Unlock()
		if eng == nil {
			return
		}
		if i := vs.Index(r.cfg.Dir.ID(from)); i >= 0 {
			eng.Receive(uint64(i)+1, msg)
		}
	}
}

// replayHeld hands the running engine the messages held for it.
func (r *Runner) replayHeld() {
	r.mu.Lock()
	held := r.mu.held
	r.mu.held = nil
	r.mu.Unlock()
	for _, m := range held {
		if time.Since(m.at) < holdFor {
			r.Receive(m.from, m.msg)
		}
	}
}

// forward sends a follower's admitted transaction to f+1 validators,
// starting at a different one each time.
func (r *Runner) forward(raw []byte) error {
	vs, _ := r.cfg.App.NextValidators()
	to := r.validatorNumbers()
	if len(to) == 0 {
		return fmt.Errorf("%w: %s: no validator reachable to forward to", ErrFollower, r.cfg.ChainID)
	}
	msg := append([]byte{kindForward}, raw...)
	n := min(len(to), len(vs.Validators)-vs.Quorum()+1)
	start := int(r.forwards.Add(1))
	for i := 0; i < n; i++ {
		r.cfg.Net.Send(to[(start+i)%len(to)], msg)
	}
	return nil
}

// admitForwarded admits a transaction a follower forwarded, if this node
// validates; refusals (duplicate, stale nonce, full pool) are the
// follower's client's to retry.
func (r *Runner) admitForwarded(from uint64, raw []byte) {
	if !r.Validating() || len(raw) > chain.MaxTxSize {
		return
	}
	tx, err := chain.DecodeTx(raw)
	if err != nil || tx.ChainID != r.cfg.ChainID {
		return
	}
	if _, err := r.cfg.App.Submit(tx); err != nil {
		r.cfg.Logger.Debug("forwarded transaction refused", "chain", r.cfg.ChainID, "from", r.cfg.Dir.ID(from), "err", err)
	}
}

// validatorNumbers returns the network numbers of the validators of the
// set certifying the next block.
func (r *Runner) validatorNumbers() []uint64 {
	vs, _ := r.cfg.App.NextValidators()
	out := make([]uint64, 0, len(vs.Validators))
	for _, v := range vs.Validators {
		if n := r.cfg.Dir.Number(v.ID); n != 0 && v.ID != r.cfg.SelfID {
			out = append(out, n)
		}
	}
	return out
}

// Run validates or follows until ctx ends or an engine fails.
func (r *Runner) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		vs, hash := r.cfg.App.NextValidators()
		if r.cfg.OnSet != nil {
			r.cfg.OnSet(vs)
		}
		if vs.Index(r.cfg.SelfID) < 0 {
			r.follow(ctx, hash)
			continue
		}
		if err := r.validate(ctx, vs, hash); err != nil {
			return err
		}
	}
	return nil
}

// validate runs an engine for vs until the set certifying the next block
// is another (returns nil), ctx ends (nil) or the engine fails.
func (r *Runner) validate(ctx context.Context, vs *chain.ValidatorSet, hash crypto.Hash) error {
	net := &setNet{r: r, vs: vs}
	eng, err := r.cfg.Build(vs, net)
	if err != nil {
		return err
	}
	head := r.cfg.App.Head().Height
	r.cfg.Logger.Info("validating", "chain", r.cfg.ChainID, "from_height", head+1, "validators", len(vs.Validators), "index", vs.Index(r.cfg.SelfID), "set", hash)
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Route messages before it runs: it answers peers' sync requests at
	// once (peers switching too wait for them) and holds the rest.
	r.setEngine(eng, vs)
	r.replayHeld()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ectx) }()
	// stop silences the engine at once (it must not speak for a set that
	// no longer certifies) and waits for it.
	stop := func() error {
		net.closed.Store(true)
		r.setEngine(nil, nil)
		cancel()
		return <-done
	}
	resubmit := r.cfg.App.PendingTxs(r.cfg.MaxResubmit)
	tick := time.NewTicker(r.cfg.FollowEvery)
	defer tick.Stop()
	for {
		if resubmit != nil && ready(eng) {
			// What the previous engine held (best effort: clients resubmit
			// what is lost).
			for _, tx := range resubmit {
				_ = eng.SubmitTx(tx.Encode())
			}
			resubmit = nil
		}
		committed := r.cfg.App.Committed()
		if _, h := r.cfg.App.NextValidators(); h != hash {
			err := stop()
			r.cfg.Logger.Info("validator set changed: engine stopped", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "set", h, "engine_err", err)
			return nil
		}
		select {
		case <-committed:
		case <-tick.C:
		case err := <-done:
			net.closed.Store(true)
			r.setEngine(nil, nil)
			if _, h := r.cfg.App.NextValidators(); h != hash && ctx.Err() == nil {
				// Raced with the change (a decision under the old set).
				r.cfg.Logger.Warn("engine stopped at a set change", "chain", r.cfg.ChainID, "err", err)
				return nil
			}
			return err
		case <-ctx.Done():
			return stop()
		}
	}
}

// follow fetches blocks from the validators of the set certifying the next
// block until that set changes or ctx ends.
func (r *Runner) follow(ctx context.Context, hash crypto.Hash) {
	r.cfg.Logger.Info("following", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "set", hash)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		if _, h := r.cfg.App.NextValidators(); h != hash {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		if progress, _ := r.sync.Round(0); progress {
			wait.Reset(0)
		} else {
			wait.Reset(r.cfg.FollowEvery)
		}
	}
}

// setNet is an engine's network: validator index+1 of its set. Closed,
// it drops everything.
type setNet struct {
	r      *Runner
	vs     *chain.ValidatorSet
	closed atomic.Bool
}

func (n *setNet) Send(to uint64, msg []byte) {
	if to == 0 || to > uint64(len(n.vs.Validators)) || n.closed.Load() {
		return
	}
	if k := n.r.cfg.Dir.Number(n.vs.Validators[to-1].ID); k != 0 {
		n.r.cfg.Net.Send(k, msg)
	}
}

// Ready reports whether the engine can take transactions (it knows a
// leader); a follower, which takes none, is ready at once.
func (r *Runner) Ready() bool {
	eng := r.Engine()
	if eng == nil {
		return !r.validatorSoon()
	}
	return ready(eng)
}

// validatorSoon reports whether the set names this node though no engine
// runs yet (starting or switching).
func (r *Runner) validatorSoon() bool {
	vs, _ := r.cfg.App.NextValidators()
	return vs.Index(r.cfg.SelfID) >= 0
}
