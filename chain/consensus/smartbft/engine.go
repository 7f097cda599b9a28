// Package smartbft orders a chain's blocks with SmartBFT
// (github.com/hyperledger-labs/SmartBFT, the BFT library of Hyperledger
// Fabric 3), tolerating f Byzantine validators of n = 3f+1. We supply the
// host side SmartBFT asks for (pkg/api/dependencies.go): transport over a
// Network, assembler, verifier, signer, synchroniser, delivery and the WAL
// directory. SmartBFT node IDs are validator indices plus one; its sequence
// numbers are block heights; each consenter's commit signature is our
// certificate signature over the header, so certificates verify with
// chain.VerifyCommit alone. It is the only package importing SmartBFT.
package smartbft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger-labs/SmartBFT/pkg/consensus"
	"github.com/hyperledger-labs/SmartBFT/pkg/types"
	"github.com/hyperledger-labs/SmartBFT/pkg/wal"
	protos "github.com/hyperledger-labs/SmartBFT/smartbftprotos"
	"google.golang.org/protobuf/proto"

	"github.com/polityledger/polity/chain"
	pconsensus "github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
)

// App is the chain a validator orders (implemented by replica.Replica).
type App interface {
	Head() chain.Header
	// NextValidators returns the set certifying the block after the head.
	NextValidators() (*chain.ValidatorSet, crypto.Hash)
	// Build executes txs on the head and returns the uncertified block.
	Build(proposer string, time uint64, txs []*chain.Tx) (*chain.Block, error)
	// Verify re-executes a proposed block and checks its header.
	Verify(b *chain.Block) error
	// Deliver commits a certified block.
	Deliver(b *chain.Block) error
	// Block returns a committed block.
	Block(h uint64) (*chain.Block, error)
	// Stale reports whether a transaction can never be included any more.
	Stale(tx *chain.Tx) bool
	// PendingTxs returns up to max transactions waiting in the mempool.
	PendingTxs(max int) []*chain.Tx
	// NextNonce returns a sender's next nonce in committed state (and
	// counting its pending transactions).
	NextNonce(a chain.Address) (committed, next uint64, err error)
}

// Config for an engine.
type Config struct {
	ChainID    string
	App        App
	Suite      crypto.Suite
	Key        crypto.PrivateKey // this validator's key
	Validators chain.ValidatorSet
	SelfID     string // this validator's ID in Validators
	Net        pconsensus.Network
	WALDir     string
	Logger     *slog.Logger
	Clock      func() time.Time

	// BatchMaxCount bounds a block's transactions. The leader proposes as
	// soon as BatchReadyCount requests are pooled, or else once
	// BatchMaxInterval has passed, and takes up to BatchMaxCount of the
	// pooled requests either way: a loaded chain does not wait for the
	// timer, a quiet one still gathers a few transactions per block.
	BatchMaxCount    uint64
	BatchReadyCount  uint64
	BatchMaxInterval time.Duration
	// RequestPoolSize bounds SmartBFT's request pool.
	RequestPoolSize uint64
	// LeaderRotation rotates the leader every few decisions (censorship
	// resistance without waiting for complaints).
	LeaderRotation bool
	// ViewChangeTimeout and RequestComplainTimeout govern how fast a
	// silent or censoring leader is replaced.
	ViewChangeTimeout      time.Duration
	RequestComplainTimeout time.Duration
	// MaxClockSkew bounds how far in the future a proposal's time may be.
	MaxClockSkew time.Duration
	// StuckAfter: restart SmartBFT when peers are ahead and this node has
	// not committed for this long (0 disables the watchdog, which also
	// resubmits transactions pending for RequestComplainTimeout/2).
	StuckAfter time.Duration
}

// DefaultConfig returns tuned defaults; the caller fills the identity fields.
func DefaultConfig() Config {
	return Config{
		BatchMaxCount:          2000,
		BatchReadyCount:        256,
		BatchMaxInterval:       20 * time.Millisecond,
		RequestPoolSize:        100_000,
		LeaderRotation:         false,
		ViewChangeTimeout:      10 * time.Second,
		RequestComplainTimeout: 10 * time.Second,
		MaxClockSkew:           10 * time.Second,
		StuckAfter:             30 * time.Second,
	}
}

// Engine runs SmartBFT for one chain on one validator.
type Engine struct {
	cfg    Config
	self   uint64
	nodes  []uint64
	log    *slog.Logger
	c      *consensus.Consensus
	syncer *syncer
	// deliverMu serialises commits from decisions and from sync.
	deliverMu sync.Mutex
	pipe      pipeline // decided blocks committing off SmartBFT's path
	// emptyProposal: this node's last proposal had requests but no
	// transaction valid on the head (see batch).
	emptyProposal  atomic.Bool
	gaps           *gaps // transactions waiting for their sender's earlier nonces
	dec            *decoded
	fatalMu        sync.Mutex
	fatal          error
	failed         chan struct{}
	forwarded      chan []byte  // forwarded transactions waiting for admitLoop
	forwardedBytes atomic.Int64 // their total size
	// early holds consensus messages that arrive while SmartBFT starts
	// (it syncs first); they are replayed once it runs, so a decision made
	// meanwhile is not missed. Guarded by fatalMu.
	early []earlyMsg
}

type earlyMsg struct {
	from uint64
	m    *protos.Message
}

// maxEarly bounds the messages held during start-up.
const maxEarly = 10000

// New prepares an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	if cfg.App == nil || cfg.Suite == nil || cfg.Key == nil || cfg.Net == nil || cfg.WALDir == "" {
		return nil, errors.New("smartbft: app, suite, key, network and WAL dir are required")
	}
	if err := cfg.Validators.Validate(cfg.Suite); err != nil {
		return nil, err
	}
	idx := cfg.Validators.Index(cfg.SelfID)
	if idx < 0 {
		return nil, fmt.Errorf("smartbft: %q is not a validator of %s", cfg.SelfID, cfg.ChainID)
	}
	if string(cfg.Validators.Validators[idx].PubKey) != string(cfg.Key.Public().Bytes()) {
		return nil, fmt.Errorf("smartbft: key does not match validator %q", cfg.SelfID)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Engine{cfg: cfg, self: uint64(idx) + 1, log: cfg.Logger, failed: make(chan struct{}), forwarded: make(chan []byte, forwardQueue), dec: newDecoded(cfg.Suite)}
	for i := range cfg.Validators.Validators {
		e.nodes = append(e.nodes, uint64(i)+1)
	}
	e.syncer = newSyncer(e)
	e.gaps = newGaps(cfg.Suite, func(a chain.Address) (uint64, error) {
		n, _, err := cfg.App.NextNonce(a)
		return n, err
	})
	return e, nil
}

// batchMaxBytes bounds a proposal's requests, leaving room in the block for
// the header and the encoding.
const batchMaxBytes = chain.MaxBlockSize / 2

// readyCount is how many pooled requests make the leader propose at once.
func (e *Engine) readyCount() uint64 {
	if r := e.cfg.BatchReadyCount; r > 0 && r < e.cfg.BatchMaxCount {
		return r
	}
	return e.cfg.BatchMaxCount
}

// Ready reports whether consensus runs and knows a leader, so submitted
// transactions can be ordered.
func (e *Engine) Ready() bool {
	c := e.consensus()
	return c != nil && c.GetLeaderID() != 0
}

// SubmitTx hands an admitted transaction to SmartBFT's request pool (the
// replica calls it after its own admission checks).
func (e *Engine) SubmitTx(raw []byte) error {
	c := e.consensus()
	if c == nil {
		return errors.New("smartbft: not started")
	}
	// SmartBFT forwards a follower's requests to the leader only after
	// RequestForwardTimeout; send it now so the next block can carry it. The
	// local pool copy stays for censorship detection: if the leader never
	// includes it, this node complains and the leader is replaced.
	e.forward(c, raw)
	tx, err := e.dec.tx(raw)
	if err != nil {
		return err
	}
	return e.toPool(c, e.gaps.admit(tx, raw), raw)
}

// forward sends a transaction to the leader, if another node leads.
func (e *Engine) forward(c *consensus.Consensus, raw []byte) {
	if lead := c.GetLeaderID(); lead != 0 && lead != e.self {
		e.cfg.Net.Send(lead, append([]byte{kindRequest}, raw...))
	}
}

// toPool submits ready transactions (gaps.admit) to SmartBFT's pool and
// returns the error for own, if it was among them and refused.
func (e *Engine) toPool(c *consensus.Consensus, reqs [][]byte, own []byte) error {
	var ownErr error
	for i, r := range reqs {
		if err := c.SubmitRequest(r); err != nil && !duplicate[err.Error()] {
			if i == 0 && own != nil && bytes.Equal(r, own) {
				ownErr = err
			}
		}
	}
	return ownErr
}

// duplicate holds the texts of SmartBFT's errors for a request it holds or has
// just ordered (internal/bft.ErrReqAlreadyExists and ErrReqAlreadyProcessed,
// not importable). The watchdog resubmits transactions, so a second
// submission is no failure.
var duplicate = map[string]bool{"request already exists": true, "request already processed": true}

func (e *Engine) consensus() *consensus.Consensus {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.c
}

// fail records an unrecoverable error (a block SmartBFT decided could not be
// committed) and stops the engine: continuing would diverge from the ledger.
func (e *Engine) fail(err error) {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	if e.fatal == nil {
		e.fatal = err
		close(e.failed)
	}
}

// Run starts consensus and blocks until ctx ends or the engine fails. A
// watchdog restarts the SmartBFT instance from the ledger when peers are
// ahead and this node has made no progress for StuckAfter (SmartBFT v1.0.1
// can leave a follower's controller blocked after a sync aborts its view;
// upstream PR #681). The ledger is the source of truth, so a restart is safe.
func (e *Engine) Run(ctx context.Context) error {
	restart := make(chan struct{}, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go e.watchdog(wctx, restart)
	go e.admitLoop(wctx)
	for {
		restarted, err := e.runInstance(ctx, restart)
		if err != nil || !restarted {
			return err
		}
		e.log.Warn("restarted SmartBFT: peers were ahead and this node made no progress", "stuck_after", e.cfg.StuckAfter)
	}
}

// walBufferBytes is the buffer SmartBFT's WAL allocates for every record it
// appends (v1.0.1 uses the option for nothing else). Its default, 1 MiB,
// made each vote a zeroed megabyte: a fifth of all the devnet's allocation
// under load. Votes fit in this; a proposal grows the buffer once to its size.
const walBufferBytes = 4 << 10

func walOptions() *wal.Options {
	o := wal.DefaultOptions()
	o.BufferSizeBytes = walBufferBytes
	return o
}

// runInstance runs one SmartBFT instance until ctx ends, the engine fails,
// or the watchdog asks for a restart (restarted = true).
func (e *Engine) runInstance(ctx context.Context, restart <-chan struct{}) (restarted bool, err error) {
	// The previous instance's last decision is in the ledger before this
	// one starts from it.
	if err := e.settle(); err != nil {
		return false, err
	}
	w, entries, err := wal.InitializeAndReadAll(zlog{e.log}, e.cfg.WALDir, walOptions())
	if err != nil {
		return false, fmt.Errorf("smartbft: WAL: %w", err)
	}
	defer w.Close()
	gate := &instanceGate{}

	bc := types.DefaultConfig
	bc.SelfID = e.self
	// SmartBFT's batcher stops waiting at RequestBatchMaxCount requests and
	// hands over that many; AssembleProposal then takes the rest of the
	// pool up to BatchMaxCount.
	bc.RequestBatchMaxCount = e.readyCount()
	bc.RequestBatchMaxBytes = batchMaxBytes
	bc.RequestBatchMaxInterval = e.cfg.BatchMaxInterval
	bc.RequestPoolSize = e.cfg.RequestPoolSize
	bc.RequestMaxBytes = chain.MaxTxSize
	bc.IncomingMessageBufferSize = 2000
	bc.LeaderRotation = e.cfg.LeaderRotation
	if !e.cfg.LeaderRotation {
		bc.DecisionsPerLeader = 0
	}
	bc.ViewChangeTimeout = e.cfg.ViewChangeTimeout
	bc.ViewChangeResendInterval = e.cfg.ViewChangeTimeout / 4
	bc.RequestComplainTimeout = e.cfg.RequestComplainTimeout
	bc.RequestForwardTimeout = e.cfg.RequestComplainTimeout / 4
	bc.LeaderHeartbeatTimeout = e.cfg.ViewChangeTimeout
	bc.SyncOnStart = true
	bc.CollectTimeout = 500 * time.Millisecond

	md, last, sigs, err := e.lastDecision()
	if err != nil {
		return false, err
	}
	// Ticks run until SmartBFT has stopped, not until ctx ends: its view
	// changer can wait for two ticks with no way out (starting an in-flight
	// view), and Stop waits for it.
	tickCtx, stopTicks := context.WithCancel(context.Background())
	defer stopTicks()
	ticker := steadyTicks(tickCtx, 100*time.Millisecond)
	vcTicker := steadyTicks(tickCtx, 100*time.Millisecond)
	h := &host{e: e, gate: gate}
	c := &consensus.Consensus{
		Config:             bc,
		Application:        h,
		Assembler:          h,
		WAL:                gatedWAL{w, gate},
		WALInitialContent:  entries,
		Comm:               h,
		Signer:             h,
		Verifier:           h,
		MembershipNotifier: h,
		RequestInspector:   h,
		Synchronizer:       e.syncer,
		Logger:             zlog{e.log},
		Metadata:           md,
		LastProposal:       last,
		LastSignatures:     sigs,
		Scheduler:          ticker,
		ViewChangerTicker:  vcTicker,
	}
	if err := c.Start(); err != nil {
		return false, fmt.Errorf("smartbft: start: %w", err)
	}
	e.fatalMu.Lock()
	e.c = c
	early := e.early
	e.early = nil
	e.fatalMu.Unlock()
	for _, m := range early {
		c.HandleMessage(m.from, m.m)
	}
	e.resubmit(e.cfg.App.PendingTxs(int(e.cfg.BatchMaxCount))) // a new pool starts empty
	ictx, endInstance := context.WithCancel(ctx)
	if pp := restoredPrePrepare(entries); pp != nil {
		go e.resendRestored(ictx, h, pp)
	}
	select {
	case <-ctx.Done():
	case <-e.failed:
	case <-restart:
		restarted = true
	}
	endInstance()
	e.fatalMu.Lock()
	e.c = nil // messages arriving until the next instance runs are held
	e.fatalMu.Unlock()
	if stopInstance(c, gate) {
		e.log.Error("SmartBFT instance did not stop (controller deadlock, upstream PR #681); abandoned it", "waited", stopWait)
	}
	// Nothing decided is left uncommitted when the instance ends.
	if err := e.settle(); err != nil {
		return false, err
	}
	return restarted && ctx.Err() == nil, nil
}

// steadyTicks is SmartBFT's clock: ticks every period whose times advance by
// at most two periods per tick. SmartBFT measures a leader's silence with
// these times; after this process was stopped (SIGSTOP, a frozen VM) the
// first real tick would count the whole pause as silence, before the
// heartbeats sent meanwhile are read, and the node would complain about a
// healthy leader. Time spent running still counts in full, so a leader that
// is really silent is still replaced.
func steadyTicks(ctx context.Context, period time.Duration) <-chan time.Time {
	out := make(chan time.Time)
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		var now time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case real := <-t.C:
				switch {
				case now.IsZero():
					now = real
				case real.Sub(now) > 2*period:
					now = now.Add(2 * period)
				case real.After(now):
					now = real
				}
				select {
				case out <- now:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// lastDecision rebuilds SmartBFT's starting point from the ledger head.
func (e *Engine) lastDecision() (*protos.ViewMetadata, types.Proposal, []types.Signature, error) {
	head := e.cfg.App.Head()
	if head.Height == 0 {
		return &protos.ViewMetadata{}, types.Proposal{}, nil, nil
	}
	b, err := e.cfg.App.Block(head.Height)
	if err != nil {
		return nil, types.Proposal{}, nil, err
	}
	md := &protos.ViewMetadata{}
	if err := proto.Unmarshal(b.Commit.Meta, md); err != nil {
		return nil, types.Proposal{}, nil, fmt.Errorf("smartbft: head block's consensus metadata: %w", err)
	}
	p, sigs := decision(b)
	return md, p, sigs, nil
}

// decision turns a committed block back into SmartBFT's proposal and signatures.
func decision(b *chain.Block) (types.Proposal, []types.Signature) {
	p := types.Proposal{Header: b.Header.Encode(), Payload: encodeTxs(b.Txs), Metadata: b.Commit.Meta}
	sigs := make([]types.Signature, len(b.Commit.Sigs))
	for i, s := range b.Commit.Sigs {
		sigs[i] = types.Signature{ID: uint64(s.Index) + 1, Value: s.Sig, Msg: s.Aux}
	}
	return p, sigs
}

// Receive handles a message from validator node `from` (authenticated by
// the transport).
func (e *Engine) Receive(from uint64, msg []byte) {
	if from == 0 || from > uint64(len(e.nodes)) || from == e.self || len(msg) == 0 {
		return
	}
	c := e.consensus()
	switch msg[0] {
	case kindConsensus:
		m := &protos.Message{}
		if err := proto.Unmarshal(msg[1:], m); err != nil {
			e.log.Debug("bad consensus message", "from", from, "err", err)
			return
		}
		if c == nil {
			e.fatalMu.Lock()
			if e.c == nil {
				if len(e.early) < maxEarly {
					e.early = append(e.early, earlyMsg{from, m})
				}
				e.fatalMu.Unlock()
				return
			}
			c = e.c
			e.fatalMu.Unlock()
		}
		c.HandleMessage(from, m)
	case kindRequest:
		if c != nil {
			e.queueForwarded(msg[1:])
		}
	case kindSyncRequest:
		e.syncer.Serve(from, msg[1:])
	case kindSyncResponse:
		e.syncer.Receive(from, msg[1:])
	}
}
