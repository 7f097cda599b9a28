// Package raft orders a chain's blocks with hashicorp/raft (Ongaro and
// Ousterhout, "In Search of an Understandable Consensus Algorithm", USENIX
// ATC 2014), for chains whose genesis asks for crash fault tolerance only.
// It sits behind the same consensus interfaces as the BFT engine: Raft
// messages travel over the chain's consensus.Network (transport.go), its
// log and stable store are Pebble (chain/ledger/raftlog), Raft server IDs
// are validator IDs and addresses node numbers.
//
// The Raft log carries two commands (entry.go): a proposal (an uncertified
// block the leader built) and a certificate (a majority of validators'
// signatures over that block's header). Every validator, applying a
// proposal, verifies it by re-execution, signs it and sends the signature
// to the leader; the leader appends the certificate; applying the
// certificate delivers the block. Headers thus carry certificates a light
// client checks with chain.VerifyCommit under the crash-fault-only quorum
// rule of the validator set. It is the only package importing
// hashicorp/raft besides chain/ledger/raftlog.
package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus/blocksync"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger/raftlog"
)

// Engine runs Raft for one chain on one validator.
type Engine struct {
	cfg     Config
	setHash crypto.Hash // cfg.Validators'
	self    uint64
	nodes   uint64
	keys    []crypto.PublicKey
	log     *slog.Logger
	trans   *transport
	fsm     *fsm
	votes   *votes
	syncer  *blocksync.Syncer
	fwd     *forwarder
	r       atomic.Pointer[hraft.Raft]

	fatalMu sync.Mutex
	fatal   error
	failed  chan struct{}
	// stopping closes when Run's context ends: a restore fetching blocks
	// gives up then (Raft's shutdown waits for it).
	stopping chan struct{}
}

// New prepares an engine; Run starts it. Receive may be called from then on.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, failed: make(chan struct{}), stopping: make(chan struct{})}
	e.self = uint64(cfg.Validators.Index(cfg.SelfID)) + 1
	e.setHash = cfg.Validators.Hash(cfg.Suite)
	e.nodes = uint64(len(cfg.Validators.Validators))
	for _, v := range cfg.Validators.Validators {
		pk, err := cfg.Suite.PublicKey(v.PubKey)
		if err != nil {
			return nil, err
		}
		e.keys = append(e.keys, pk)
	}
	e.trans = newTransport(e.self, e.nodes, cfg.Net, cfg.RPCTimeout)
	e.fsm = &fsm{e: e}
	e.votes = newVotes()
	e.syncer = newSyncer(e)
	e.fwd = newForwarder(e)
	return e, nil
}

// Run starts Raft and orders blocks until ctx ends or the engine fails.
func (e *Engine) Run(ctx context.Context) error {
	defer context.AfterFunc(ctx, func() { close(e.stopping) })()
	store, err := raftlog.Open(filepath.Join(e.cfg.Dir, "log"), raftlog.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	out := logWriter{e.log}
	snaps, err := hraft.NewFileSnapshotStore(filepath.Join(e.cfg.Dir, "snapshots"), 2, out)
	if err != nil {
		return fmt.Errorf("raft: snapshot store: %w", err)
	}
	conf := hraft.DefaultConfig()
	conf.LocalID = hraft.ServerID(e.cfg.SelfID)
	conf.HeartbeatTimeout = e.cfg.HeartbeatTimeout
	conf.ElectionTimeout = e.cfg.ElectionTimeout
	conf.LeaderLeaseTimeout = e.cfg.LeaderLeaseTimeout
	conf.CommitTimeout = e.cfg.CommitTimeout
	conf.SnapshotThreshold = e.cfg.SnapshotThreshold
	conf.SnapshotInterval = e.cfg.SnapshotInterval
	conf.TrailingLogs = e.cfg.TrailingLogs
	conf.LogOutput = out
	conf.LogLevel = "WARN"
	conf.NoLegacyTelemetry = true
	if err := hraft.ValidateConfig(conf); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	has, err := hraft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("raft: read state: %w", err)
	}
	if !has {
		// Every validator bootstraps with the same configuration: the
		// genesis validator set, all voters.
		var servers []hraft.Server
		for i, v := range e.cfg.Validators.Validators {
			servers = append(servers, hraft.Server{Suffrage: hraft.Voter, ID: hraft.ServerID(v.ID), Address: addrOf(uint64(i) + 1)})
		}
		if err := hraft.BootstrapCluster(conf, store, store, snaps, e.trans, hraft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("raft: bootstrap: %w", err)
		}
	}
	r, err := hraft.NewRaft(conf, e.fsm, store, store, snaps, e.trans)
	if err != nil {
		// Restoring the local snapshot may have failed the engine (e.g.
		// behind pruning peers): that error tells the runner what to do.
		e.fatalMu.Lock()
		defer e.fatalMu.Unlock()
		if e.fatal != nil {
			return fmt.Errorf("raft: start: %w", e.fatal)
		}
		return fmt.Errorf("raft: start: %w", err)
	}
	e.r.Store(r)
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.lead(lctx) }()
	go func() { defer wg.Done(); e.fwd.run(lctx) }()
	go func() { defer wg.Done(); e.fwd.runInbound(lctx) }()
	select {
	case <-ctx.Done():
	case <-e.failed:
	}
	stop()
	wg.Wait()
	e.r.Store(nil)
	// Fail the RPCs in flight at once: Raft's shutdown waits for its
	// replication goroutines, which would otherwise wait out RPCTimeout.
	e.trans.Close()
	if err := r.Shutdown().Error(); err != nil {
		e.log.Warn("raft shutdown", "err", err)
	}
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatal
}

// fail records an unrecoverable error and stops the engine: continuing
// would let the ledger diverge from the log.
func (e *Engine) fail(err error) {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	if e.fatal == nil {
		e.log.Error("raft engine failed", "err", err)
		e.fatal = err
		close(e.failed)
	}
}

// leader returns the current leader's node number, 0 if none is known.
func (e *Engine) leader() uint64 {
	r := e.r.Load()
	if r == nil {
		return 0
	}
	addr, _ := r.LeaderWithID()
	n, err := e.trans.node(addr)
	if err != nil {
		if addr == addrOf(e.self) {
			return e.self
		}
		return 0
	}
	return n
}

// isLeader reports whether this node leads.
func (e *Engine) isLeader() bool {
	r := e.r.Load()
	return r != nil && r.State() == hraft.Leader
}

// Ready reports whether a leader is known, so submitted transactions can be
// ordered.
func (e *Engine) Ready() bool { return e.leader() != 0 }

// Leader returns the current leader's validator ID, "" if none is known.
func (e *Engine) Leader() string {
	n := e.leader()
	if n == 0 {
		return ""
	}
	return e.cfg.Validators.Validators[n-1].ID
}

// SubmitTx takes an admitted transaction (the replica calls it after its
// own admission checks) and forwards it to the leader.
func (e *Engine) SubmitTx(raw []byte) error { return e.fwd.submit(raw) }

// sign makes this validator's certificate signature over a header.
func (e *Engine) sign(h *chain.Header, hh crypto.Hash) ([]byte, error) {
	sig, err := e.cfg.Key.Sign(chain.SignedMessage(h.ChainID, h.Height, hh, nil))
	if err != nil {
		return nil, fmt.Errorf("raft: sign: %w", err)
	}
	return sig, nil
}

// sendVote sends a certificate signature to node (or records it if that is us).
func (e *Engine) sendVote(to uint64, v vote) {
	if to == e.self {
		e.votes.add(e.self, v)
		return
	}
	e.cfg.Net.Send(to, encodeVote(kindVote, v))
}

// Receive handles a message from validator node `from` (authenticated by
// the transport).
func (e *Engine) Receive(from uint64, msg []byte) {
	if from == 0 || from > e.nodes || from == e.self || len(msg) == 0 {
		return
	}
	body := msg[1:]
	switch msg[0] {
	case kindRPC:
		e.trans.serve(from, body)
	case kindRPCReply:
		e.trans.reply(from, body)
	case kindTx:
		e.fwd.receive(body)
	case kindVote:
		v, err := decodeVote(kindVote, body)
		if err != nil {
			return
		}
		msg := chain.SignedMessage(e.cfg.ChainID, v.height, crypto.Hash(v.hash), nil)
		if !e.keys[from-1].Verify(msg, v.sig) {
			e.log.Debug("vote with a bad signature", "from", from, "height", v.height)
			return
		}
		e.votes.add(from, v)
	case kindVoteAsk:
		v, err := decodeVote(kindVoteAsk, body)
		if err != nil {
			return
		}
		if p, hh, sig := e.fsm.pendingBlock(); p != nil && p.Header.Height == v.height && hh == crypto.Hash(v.hash) {
			e.cfg.Net.Send(from, encodeVote(kindVote, vote{height: v.height, hash: hh, sig: sig}))
		}
	case kindSyncAsk:
		e.syncer.Serve(from, body)
	case kindSyncGive:
		e.syncer.Receive(from, body)
	}
}

// errNotLeader ends a leader's step when leadership is lost.
var errNotLeader = errors.New("raft: not the leader")
