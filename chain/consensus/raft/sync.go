package raft

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
)

// Sync limits.
const (
	syncMaxBlocks  = 256     // per response
	syncMaxBytes   = 8 << 20 // per response (blocks are added while under it)
	syncRoundWait  = time.Second
	syncMaxPending = 64 // responses buffered per round
)

// ErrSync is returned when the blocks a snapshot needs could not be fetched.
var ErrSync = errors.New("raft: block sync did not reach the snapshot")

// syncer fetches committed blocks from peers when a snapshot from the
// leader is ahead of the ledger (the log before it was compacted away), and
// serves the same requests. Each block must carry a certificate valid for
// the validator set and is re-executed on delivery (its roots must match).
type syncer struct {
	e       *Engine
	fetched atomic.Uint64 // blocks committed from peers
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

// syncTo fetches blocks until the ledger reaches target or within passes.
func (s *syncer) syncTo(target uint64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for s.e.cfg.App.Head().Height < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: at %d of %d after %v", ErrSync, s.e.cfg.App.Head().Height, target, within)
		}
		select {
		case <-s.e.failed:
			return ErrSync
		default:
		}
		if err := s.round(target); err != nil {
			return err
		}
	}
	return nil
}

// round asks every peer once and applies what they send, in height order.
func (s *syncer) round(target uint64) error {
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
	w := codec.NewWriter(24)
	w.Byte(kindSyncAsk)
	w.Uint(id)
	w.Uint(start + 1)
	for n := uint64(1); n <= s.e.nodes; n++ {
		if n != s.e.self {
			s.e.cfg.Net.Send(n, w.Bytes())
		}
	}
	var replies []syncReply
	timeout := time.NewTimer(syncRoundWait)
	defer timeout.Stop()
collect:
	for len(replies) < int(s.e.nodes)-1 {
		select {
		case r := <-ch:
			replies = append(replies, r)
			if r.head >= target && len(r.blocks) > 0 {
				break collect // a peer that has everything needed answered
			}
		case <-timeout.C:
			break collect
		}
	}
	sort.Slice(replies, func(i, j int) bool { return replies[i].head > replies[j].head })
	for _, r := range replies {
		for _, b := range r.blocks {
			if b.Header.Height != s.e.cfg.App.Head().Height+1 {
				continue
			}
			if err := chain.VerifyCommit(s.e.cfg.Suite, &s.e.cfg.Validators, &b.Header, &b.Commit); err != nil {
				s.e.log.Warn("sync: refusing block", "peer", r.from, "height", b.Header.Height, "err", err)
				break
			}
			if err := s.e.cfg.App.Deliver(b); err != nil {
				s.e.log.Warn("sync: block does not apply", "peer", r.from, "height", b.Header.Height, "err", err)
				break
			}
			s.fetched.Add(1)
		}
	}
	s.e.log.Debug("sync round", "from", start, "to", s.e.cfg.App.Head().Height, "target", target)
	return nil
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
	var encs [][]byte
	size := 0
	for ; h <= head && h > 0 && len(encs) < syncMaxBlocks && size < syncMaxBytes; h++ {
		b, err := s.e.cfg.App.Block(h)
		if err != nil {
			break
		}
		enc := b.Encode()
		if size+len(enc) > maxData {
			break
		}
		encs = append(encs, enc)
		size += len(enc)
	}
	w := codec.NewWriter(64 + size)
	w.Byte(kindSyncGive)
	w.Uint(id)
	w.Uint(head)
	w.Uint(uint64(len(encs)))
	for _, e := range encs {
		w.VarBytes(e)
	}
	s.e.cfg.Net.Send(from, w.Bytes())
}

// response routes a peer's blocks to the round waiting for them.
func (s *syncer) response(from uint64, payload []byte) {
	id, head, blocks, err := decodeSyncGive(payload)
	if err != nil {
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

func decodeSyncGive(payload []byte) (id, head uint64, blocks []*chain.Block, err error) {
	r := codec.NewReader(payload)
	id = r.Uint("sync.id")
	head = r.Uint("sync.head")
	n := r.UintMax("sync.count", syncMaxBlocks)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.VarBytes("sync.block", maxData)
		if r.Err() != nil {
			break
		}
		b, err := chain.DecodeBlock(enc)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%w: %w", ErrWire, err)
		}
		blocks = append(blocks, b)
	}
	if err := r.Done(); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %w", ErrWire, err)
	}
	return id, head, blocks, nil
}
