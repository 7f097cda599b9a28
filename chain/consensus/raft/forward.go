package raft

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Forwarding limits.
const (
	// maxTracked bounds the transactions a node remembers for forwarding.
	maxTracked = 100_000
	// maxBatchBytes bounds one forwarding message (several transactions).
	maxBatchBytes = 1 << 20
	// maxInboundBatches and maxInboundBytes bound forwarded batches waiting
	// for admission on the leader; more are dropped (their senders forward
	// them again after ForwardRetry).
	maxInboundBatches = 4096
	maxInboundBytes   = 64 << 20
)

// forwarder sends the transactions this node admitted to the leader, and
// sends them again when the leader changes or after ForwardRetry while they
// are not committed: a leader that crashed, or lost leadership before
// proposing them, takes its mempool with it.
//
// Transactions travel in batches (kindTx: a count, then each encoded
// transaction): one message per transaction would crowd Raft's heartbeats
// out of a busy link. Inbound batches are admitted by a worker of their own,
// so signature checks never hold up the Raft messages behind them.
type forwarder struct {
	e       *Engine
	flush   chan struct{} // a batch is waiting to be sent
	inbound chan []byte   // batches from peers, waiting for admission
	queued  atomic.Int64  // bytes in inbound
	mu      struct {
		sync.Mutex
		txs      map[crypto.Hash]*tracked
		order    []crypto.Hash // arrival order, for eviction
		fromPeer map[crypto.Hash]bool
		outbox   [][]byte // to the leader, not sent yet
	}
}

type tracked struct {
	tx   *chain.Tx
	raw  []byte
	sent time.Time
}

func newForwarder(e *Engine) *forwarder {
	f := &forwarder{e: e, flush: make(chan struct{}, 1), inbound: make(chan []byte, maxInboundBatches)}
	f.mu.txs = make(map[crypto.Hash]*tracked)
	f.mu.fromPeer = make(map[crypto.Hash]bool)
	return f
}

// submit tracks an admitted transaction and forwards it unless a peer sent
// it here (no forwarding loops while two nodes disagree on the leader).
func (f *forwarder) submit(raw []byte) error {
	tx, err := chain.DecodeTx(raw)
	if err != nil {
		return err
	}
	id := f.e.cfg.Suite.Hash(raw)
	raw = append([]byte(nil), raw...)
	f.mu.Lock()
	peer := f.mu.fromPeer[id]
	if _, ok := f.mu.txs[id]; !ok {
		f.mu.txs[id] = &tracked{tx: tx, raw: raw, sent: time.Now()}
		f.mu.order = append(f.mu.order, id)
		for len(f.mu.txs) > maxTracked {
			delete(f.mu.txs, f.mu.order[0])
			f.mu.order = f.mu.order[1:]
		}
	}
	f.mu.Unlock()
	if !peer {
		f.queue([][]byte{raw})
	}
	return nil
}

// queue adds transactions to the next batch for the leader.
func (f *forwarder) queue(raws [][]byte) {
	f.mu.Lock()
	f.mu.outbox = append(f.mu.outbox, raws...)
	f.mu.Unlock()
	select {
	case f.flush <- struct{}{}:
	default:
	}
}

// send sends the outbox to the leader in batches; with no leader known
// (or this node leading) the transactions stay tracked for later.
func (f *forwarder) send() {
	f.mu.Lock()
	out := f.mu.outbox
	f.mu.outbox = nil
	f.mu.Unlock()
	lead := f.e.leader()
	if lead == 0 || lead == f.e.self {
		return
	}
	for len(out) > 0 {
		w := codec.NewWriter(maxBatchBytes)
		n, size := 0, 0
		for n < len(out) && n < chain.MaxBlockTxs && (n == 0 || size+len(out[n]) <= maxBatchBytes) {
			size += len(out[n]) + 8
			n++
		}
		w.Byte(kindTx)
		w.Uint(uint64(n))
		for _, raw := range out[:n] {
			w.VarBytes(raw)
		}
		f.e.cfg.Net.Send(lead, w.Bytes())
		out = out[n:]
	}
}

// receive queues a batch a peer forwarded for admission.
func (f *forwarder) receive(batch []byte) {
	if f.queued.Add(int64(len(batch))) > maxInboundBytes {
		f.queued.Add(-int64(len(batch)))
		return
	}
	select {
	case f.inbound <- append([]byte(nil), batch...):
	default:
		f.queued.Add(-int64(len(batch)))
	}
}

// decodeTxBatch strictly decodes a forwarded batch.
func decodeTxBatch(b []byte) ([][]byte, error) {
	r := codec.NewReader(b)
	n := r.UintMax("txs.count", chain.MaxBlockTxs)
	var out [][]byte
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		out = append(out, r.VarBytes("txs.tx", chain.MaxTxSize))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWire, err)
	}
	return out, nil
}

// admit submits a forwarded batch's transactions to the local mempool.
func (f *forwarder) admit(batch []byte) {
	raws, err := decodeTxBatch(batch)
	if err != nil {
		return
	}
	for _, raw := range raws {
		tx, err := chain.DecodeTx(raw)
		if err != nil || tx.ChainID != f.e.cfg.ChainID {
			continue
		}
		id := f.e.cfg.Suite.Hash(raw)
		f.mu.Lock()
		f.mu.fromPeer[id] = true
		f.mu.Unlock()
		if _, err := f.e.cfg.App.Submit(tx); err != nil {
			f.e.log.Debug("forwarded transaction refused", "err", err)
		}
		f.mu.Lock()
		delete(f.mu.fromPeer, id)
		f.mu.Unlock()
	}
}

// run admits inbound batches until ctx ends.
func (f *forwarder) runInbound(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-f.inbound:
			f.queued.Add(-int64(len(b)))
			f.admit(b)
		}
	}
}

// run sends queued transactions, and forwards again on a leader change and
// every ForwardRetry.
func (f *forwarder) run(ctx context.Context) {
	tick := time.NewTicker(pollEvery * 5)
	defer tick.Stop()
	var last uint64
	lastRetry := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.flush:
			f.send()
			continue
		case <-tick.C:
		}
		lead := f.e.leader()
		changed := lead != last
		last = lead
		if !changed && time.Since(lastRetry) < f.e.cfg.ForwardRetry {
			continue
		}
		lastRetry = time.Now()
		f.resend(lead, changed)
	}
}

// resend drops committed or stale transactions and sends the rest (all of
// them after a leader change, else those last sent ForwardRetry ago).
func (f *forwarder) resend(lead uint64, all bool) {
	f.mu.Lock()
	var keep []crypto.Hash
	var out [][]byte
	now := time.Now()
	for _, id := range f.mu.order {
		t, ok := f.mu.txs[id]
		if !ok {
			continue
		}
		if f.e.cfg.App.Stale(t.tx) {
			delete(f.mu.txs, id)
			continue
		}
		keep = append(keep, id)
		if all || now.Sub(t.sent) >= f.e.cfg.ForwardRetry {
			t.sent = now
			out = append(out, t.raw)
		}
	}
	f.mu.order = keep
	f.mu.Unlock()
	if lead != 0 && lead != f.e.self && len(out) > 0 {
		f.queue(out)
	}
}
