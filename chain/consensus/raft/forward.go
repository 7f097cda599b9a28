package raft

import (
	"context"
	"sync"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// maxTracked bounds the transactions a node remembers for forwarding.
const maxTracked = 100_000

// forwarder sends the transactions this node admitted to the leader, and
// sends them again when the leader changes or after ForwardRetry while they
// are not committed: a leader that crashed, or lost leadership before
// proposing them, takes its mempool with it.
type forwarder struct {
	e  *Engine
	mu struct {
		sync.Mutex
		txs      map[crypto.Hash]*tracked
		order    []crypto.Hash // arrival order, for eviction
		fromPeer map[crypto.Hash]bool
	}
}

type tracked struct {
	tx   *chain.Tx
	raw  []byte
	sent time.Time
}

func newForwarder(e *Engine) *forwarder {
	f := &forwarder{e: e}
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
	if lead := f.e.leader(); !peer && lead != 0 && lead != f.e.self {
		f.e.cfg.Net.Send(lead, append([]byte{kindTx}, raw...))
	}
	return nil
}

// receive admits a transaction a peer forwarded.
func (f *forwarder) receive(raw []byte) {
	tx, err := chain.DecodeTx(raw)
	if err != nil || tx.ChainID != f.e.cfg.ChainID {
		return
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

// run forwards again on a leader change and every ForwardRetry.
func (f *forwarder) run(ctx context.Context) {
	tick := time.NewTicker(pollEvery * 5)
	defer tick.Stop()
	var last uint64
	lastRetry := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
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
	if lead == 0 || lead == f.e.self {
		return
	}
	for _, raw := range out {
		f.e.cfg.Net.Send(lead, append([]byte{kindTx}, raw...))
	}
}
