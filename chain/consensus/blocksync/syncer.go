// Package blocksync is block transfer between the validators of a chain,
// shared by the consensus engines: a node that is behind asks every peer
// for the committed blocks after its head, checks each block's commit
// certificate against the validator set the node's own state names for
// that height (sets change through the valset module), and commits it through the
// engine (which re-executes it: the header's roots must match); every node
// serves the same requests from its ledger. Messages travel over the
// chain's consensus.Network under two kind bytes the engine chooses, so
// they share the stream with the engine's own messages.
package blocksync

import (
	"encoding/binary"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
)

// Ledger is the committed chain a syncer reads (implemented by
// replica.Replica). Safe for concurrent use.
type Ledger interface {
	// Head returns the latest committed header.
	Head() chain.Header
	// Block returns the committed block at height h.
	Block(h uint64) (*chain.Block, error)
	// NextValidators returns the set certifying the block after the head.
	NextValidators() (*chain.ValidatorSet, crypto.Hash)
}

// Pruning is a Ledger that may have pruned its oldest blocks.
type Pruning interface {
	// Base returns the lowest height whose block the ledger holds (the
	// genesis aside).
	Base() uint64
}

// base is the ledger's base: 0 if it keeps every block.
func (s *Syncer) base() uint64 {
	if p, ok := s.cfg.Ledger.(Pruning); ok {
		return p.Base()
	}
	return 0
}

// DefaultRoundWait is how long a round waits for peers' responses.
const DefaultRoundWait = time.Second

// maxPending bounds the responses buffered for one round; more are dropped.
const maxPending = 64

// Config for a syncer.
type Config struct {
	Suite      crypto.Suite
	Validators chain.ValidatorSet
	Ledger     Ledger
	// Deliver commits a block whose certificate verified; it must re-execute
	// it and refuse it if the header's roots differ. Called from Round's
	// goroutine, in height order.
	Deliver func(*chain.Block) error
	Net     consensus.Network
	// Self is this node's number; peers are 1..len(Validators) but Self.
	Self uint64
	// Peers, if set, names the nodes a round asks instead (a follower asks
	// the current validators, numbered on Net); called once per round.
	Peers func() []uint64
	// RequestKind and ResponseKind are the first bytes of the two messages
	// on the engine's stream; the engine routes them to Serve and Receive.
	RequestKind, ResponseKind byte
	// RoundWait bounds the wait for responses (DefaultRoundWait if 0).
	RoundWait time.Duration
	Logger    *slog.Logger
}

// Syncer fetches and serves blocks for one chain on one node. Round may be
// called from several goroutines (rounds run one at a time); Serve and
// Receive from the transport's.
type Syncer struct {
	cfg     Config
	nodes   uint64
	fetched atomic.Uint64
	// roundMu lets one round ask peers at a time.
	roundMu sync.Mutex
	mu      struct {
		sync.Mutex
		round uint64
		ch    chan reply
		last  []PeerHead
	}
}

// PeerHead is what a peer reported in a round: its head and base.
type PeerHead struct {
	Node, Head, Base uint64
}

// PrunedPast returns the peers ahead of head when there are some and every
// one of them has pruned the block after head (block sync cannot bring it:
// only a state snapshot can), else nil.
func PrunedPast(peers []PeerHead, head uint64) []uint64 {
	var out []uint64
	for _, p := range peers {
		if p.Head <= head {
			continue
		}
		if p.Base <= head+1 {
			return nil
		}
		out = append(out, p.Node)
	}
	return out
}

type reply struct {
	from uint64
	response
}

// New returns a syncer; the configuration is trusted (the engine checked it).
func New(cfg Config) *Syncer {
	if cfg.RoundWait <= 0 {
		cfg.RoundWait = DefaultRoundWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Syncer{cfg: cfg, nodes: uint64(len(cfg.Validators.Validators))}
}

// Fetched returns how many blocks this syncer has committed from peers.
func (s *Syncer) Fetched() uint64 { return s.fetched.Load() }

// Round asks every peer once for the blocks after the head, waits for their
// responses (all of them, RoundWait, or with target > 0 the first peer at
// or past target that sent blocks) and commits what they sent in height
// order, best-informed peer first; a block whose certificate or execution
// fails ends that peer's contribution. It reports whether the head moved and
// the highest head a peer reported.
func (s *Syncer) Round(target uint64) (progress bool, peerHead uint64) {
	return s.round(target, MaxBlocks)
}

// Probe asks every peer once for its head and base only (no blocks) and
// returns what they reported, as LastRound does.
func (s *Syncer) Probe() []PeerHead {
	s.round(0, 0)
	return s.LastRound()
}

func (s *Syncer) round(target, max uint64) (progress bool, peerHead uint64) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	start := s.cfg.Ledger.Head().Height
	ch := make(chan reply, maxPending)
	s.mu.Lock()
	s.mu.round++
	id := s.mu.round
	s.mu.ch = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.mu.ch = nil
		s.mu.Unlock()
	}()
	req := encodeRequest(s.cfg.RequestKind, request{id: id, from: start + 1, max: max})
	peers := 0
	for _, n := range s.peers() {
		if n != s.cfg.Self {
			s.cfg.Net.Send(n, req)
			peers++
		}
	}
	var replies []reply
	timeout := time.NewTimer(s.cfg.RoundWait)
	defer timeout.Stop()
collect:
	for len(replies) < peers {
		select {
		case r := <-ch:
			replies = append(replies, r)
			if target > 0 && r.head >= target && len(r.blocks) > 0 {
				break collect // a peer that has everything needed answered
			}
		case <-timeout.C:
			break collect
		}
	}
	sort.Slice(replies, func(i, j int) bool { return replies[i].head > replies[j].head })
	for _, r := range replies {
		for _, b := range r.blocks {
			if b.Header.Height != s.cfg.Ledger.Head().Height+1 {
				continue
			}
			vs, _ := s.cfg.Ledger.NextValidators()
			if err := chain.VerifyCommit(s.cfg.Suite, vs, &b.Header, &b.Commit); err != nil {
				s.cfg.Logger.Warn("sync: refusing block", "peer", r.from, "height", b.Header.Height, "err", err)
				break
			}
			if err := s.cfg.Deliver(b); err != nil {
				s.cfg.Logger.Warn("sync: block does not apply", "peer", r.from, "height", b.Header.Height, "err", err)
				break
			}
			s.fetched.Add(1)
		}
	}
	heads := make([]uint64, len(replies))
	last := make([]PeerHead, len(replies))
	for i, r := range replies {
		heads[i] = r.head
		last[i] = PeerHead{Node: r.from, Head: r.head, Base: r.base}
	}
	s.mu.Lock()
	s.mu.last = last
	s.mu.Unlock()
	end := s.cfg.Ledger.Head().Height
	s.cfg.Logger.Debug("sync round", "from", start, "to", end, "target", target, "peer_heads", heads)
	if len(replies) > 0 {
		peerHead = replies[0].head
	}
	return end > start, peerHead
}

// LastRound returns what the peers that answered the latest round
// reported, highest head first.
func (s *Syncer) LastRound() []PeerHead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.last
}

// peers returns the nodes a round asks.
func (s *Syncer) peers() []uint64 {
	if s.cfg.Peers != nil {
		return s.cfg.Peers()
	}
	out := make([]uint64, 0, s.nodes)
	for n := uint64(1); n <= s.nodes; n++ {
		out = append(out, n)
	}
	return out
}

// Serve answers a peer's request (its body, after the kind byte) with the
// ledger's head and base and the blocks from the requested height on: at
// most the request's max, added while the response is under MaxBytes and
// only if it stays within one message. Malformed requests are ignored.
func (s *Syncer) Serve(from uint64, body []byte) {
	q, err := decodeRequest(body)
	if err != nil {
		return
	}
	head, base := s.cfg.Ledger.Head().Height, s.base()
	var encs [][]byte
	size, msg := 0, maxHeader
	if q.from < base {
		q.max = 0 // pruned: the asker needs a state snapshot first
	}
	for h := q.from; h <= head && h > 0 && uint64(len(encs)) < q.max && size < MaxBytes; h++ {
		b, err := s.cfg.Ledger.Block(h)
		if err != nil {
			break
		}
		enc := b.Encode()
		if msg+binary.MaxVarintLen64+len(enc) > consensus.MaxMessageSize {
			break
		}
		encs = append(encs, enc)
		size += len(enc)
		msg += binary.MaxVarintLen64 + len(enc)
	}
	s.cfg.Net.Send(from, encodeResponse(s.cfg.ResponseKind, q.id, head, base, encs))
}

// Receive routes a peer's response (its body, after the kind byte) to the
// round waiting for it; malformed, late and surplus responses are dropped.
func (s *Syncer) Receive(from uint64, body []byte) {
	p, err := decodeResponse(body)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ch == nil || p.id != s.mu.round {
		return
	}
	select {
	case s.mu.ch <- reply{from: from, response: p}:
	default:
	}
}
