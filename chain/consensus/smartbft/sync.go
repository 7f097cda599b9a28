package smartbft

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hyperledger-labs/SmartBFT/pkg/types"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
)

// Sync limits.
const (
	syncMaxBlocks  = 256     // per response
	syncMaxBytes   = 8 << 20 // per response
	syncRoundWait  = time.Second
	syncMaxRounds  = 1000 // each round must make progress or Sync returns
	syncMaxPending = 64   // responses buffered per round
)

// syncer implements SmartBFT's Synchronizer with real block transfer: it asks
// every peer for the blocks after our head, checks each block's certificate
// against the validator set and commits it (re-executing it: the header's
// roots must match), and serves the same requests to peers.
type syncer struct {
	e *Engine
	// roundMu lets one round ask peers at a time (SmartBFT's Sync and the
	// watchdog's probe).
	roundMu sync.Mutex
	mu      struct {
		sync.Mutex
		round uint64
		ch    chan syncReply
	}
}

type syncReply struct {
	from   uint64
	head   uint64
	blocks []*chain.Block
}

func newSyncer(e *Engine) *syncer { return &syncer{e: e} }

// Sync implements api.Synchronizer.
func (s *syncer) Sync() types.SyncResponse {
	for round := 0; round < syncMaxRounds; round++ {
		if !s.round() {
			break
		}
	}
	head := s.e.cfg.App.Head()
	if head.Height == 0 {
		return types.SyncResponse{Latest: types.Decision{}}
	}
	b, err := s.e.cfg.App.Block(head.Height)
	if err != nil {
		s.e.fail(fmt.Errorf("smartbft: sync: read head: %w", err))
		return types.SyncResponse{}
	}
	p, sigs := decision(b)
	return types.SyncResponse{Latest: types.Decision{Proposal: p, Signatures: sigs}}
}

// peerHead runs one round and returns the highest head a peer reported.
func (s *syncer) peerHead() uint64 {
	_, head := s.roundHeads()
	return head
}

// round asks all peers once and applies what they send; it reports progress.
func (s *syncer) round() bool {
	progress, _ := s.roundHeads()
	return progress
}

func (s *syncer) roundHeads() (bool, uint64) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	start := s.e.cfg.App.Head().Height
	ch := make(chan syncReply, syncMaxPending)
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
	req := appendUvarint(appendUvarint([]byte{kindSyncRequest}, id), start+1)
	peers := 0
	for _, n := range s.e.nodes {
		if n != s.e.self {
			s.e.cfg.Net.Send(n, req)
			peers++
		}
	}
	var replies []syncReply
	timeout := time.NewTimer(syncRoundWait)
	defer timeout.Stop()
collect:
	for len(replies) < peers {
		select {
		case r := <-ch:
			replies = append(replies, r)
		case <-timeout.C:
			break collect
		}
	}
	// Best-informed peers first.
	sort.Slice(replies, func(i, j int) bool { return replies[i].head > replies[j].head })
	for _, r := range replies {
		for _, b := range r.blocks {
			if b.Header.Height != s.e.cfg.App.Head().Height+1 {
				continue
			}
			if err := s.apply(b); err != nil {
				s.e.log.Warn("sync: refusing block from peer", "peer", r.from, "height", b.Header.Height, "err", err)
				break
			}
		}
	}
	heads := make([]uint64, len(replies))
	for i, r := range replies {
		heads[i] = r.head
	}
	s.e.log.Debug("sync round", "from", start, "to", s.e.cfg.App.Head().Height, "peer_heads", heads)
	var top uint64
	if len(replies) > 0 {
		top = replies[0].head
	}
	return s.e.cfg.App.Head().Height > start, top
}

func (s *syncer) apply(b *chain.Block) error {
	if err := chain.VerifyCommit(s.e.cfg.Suite, &s.e.cfg.Validators, &b.Header, &b.Commit); err != nil {
		return err
	}
	return s.e.deliver(b)
}

// serve answers a peer's request for blocks from a height.
func (s *syncer) serve(from uint64, payload []byte) {
	r := codec.NewReader(payload)
	id := r.Uint("sync.id")
	h := r.Uint("sync.from")
	if r.Done() != nil {
		return
	}
	head := s.e.cfg.App.Head().Height
	w := codec.NewWriter(1024)
	w.Byte(kindSyncResponse)
	w.Uint(id)
	w.Uint(head)
	var encs [][]byte
	size := 0
	for ; h <= head && h > 0 && len(encs) < syncMaxBlocks && size < syncMaxBytes; h++ {
		b, err := s.e.cfg.App.Block(h)
		if err != nil {
			break
		}
		enc := b.Encode()
		encs = append(encs, enc)
		size += len(enc)
	}
	w.Uint(uint64(len(encs)))
	for _, e := range encs {
		w.VarBytes(e)
	}
	s.e.cfg.Net.Send(from, w.Bytes())
}

// response routes a peer's blocks to the Sync round waiting for them.
func (s *syncer) response(from uint64, payload []byte) {
	r := codec.NewReader(payload)
	id := r.Uint("sync.id")
	head := r.Uint("sync.head")
	n := r.UintMax("sync.count", syncMaxBlocks)
	var blocks []*chain.Block
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.VarBytes("sync.block", chain.MaxBlockSize)
		if r.Err() != nil {
			break
		}
		b, err := chain.DecodeBlock(enc)
		if err != nil {
			return
		}
		blocks = append(blocks, b)
	}
	if r.Done() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ch == nil || id != s.mu.round {
		return
	}
	select {
	case s.mu.ch <- syncReply{from: from, head: head, blocks: blocks}:
	default:
	}
}
