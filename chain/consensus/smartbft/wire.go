package smartbft

import (
	"fmt"
	"sort"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Message kinds: the first byte of every message on a chain's stream.
const (
	kindConsensus    byte = 1 // a SmartBFT protos.Message
	kindRequest      byte = 2 // a transaction forwarded to the leader
	kindSyncRequest  byte = 3 // blocksync request: give me blocks from a height
	kindSyncResponse byte = 4 // blocksync response: blocks
)

// encodeTxs is a proposal's payload: the count, then each encoded tx.
func encodeTxs(txs []*chain.Tx) []byte {
	w := codec.NewWriter(64 * len(txs))
	w.Uint(uint64(len(txs)))
	for _, tx := range txs {
		w.VarBytes(tx.Encode())
	}
	return w.Bytes()
}

// decodeTxs decodes a proposal's payload; its transactions come from the
// engine's decoded cache and must not be changed. A node decodes each
// proposal twice, to verify it and to deliver it, so the last payload's
// transactions are kept whole.
func (e *Engine) decodeTxs(b []byte) ([]*chain.Tx, error) {
	if txs, ok := e.dec.lastPayload(b); ok {
		return txs, nil
	}
	txs, err := e.decodeTxsOnce(b)
	if err == nil {
		e.dec.setLastPayload(b, txs)
	}
	return txs, err
}

func (e *Engine) decodeTxsOnce(b []byte) ([]*chain.Tx, error) {
	r := codec.NewReader(b)
	n := r.UintMax("payload.count", chain.MaxBlockTxs)
	txs := make([]*chain.Tx, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.VarBytes("payload.tx", chain.MaxTxSize)
		if r.Err() != nil {
			break
		}
		tx, err := e.dec.tx(enc)
		if err != nil {
			return nil, err
		}
		txs = append(txs, tx)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("proposal payload: %w", err)
	}
	return txs, nil
}

// orderByNonce sorts each sender's transactions by nonce, keeping senders in
// order of first appearance, so a block can include nonces that arrived out
// of order.
func orderByNonce(s crypto.Suite, txs []*chain.Tx) []*chain.Tx {
	type group struct{ txs []*chain.Tx }
	var order []chain.Address
	groups := make(map[chain.Address]*group)
	for _, tx := range txs {
		a := tx.SenderAddress(s)
		g := groups[a]
		if g == nil {
			g = &group{}
			groups[a] = g
			order = append(order, a)
		}
		g.txs = append(g.txs, tx)
	}
	out := make([]*chain.Tx, 0, len(txs))
	for _, a := range order {
		g := groups[a].txs
		sort.SliceStable(g, func(i, j int) bool { return g[i].Nonce < g[j].Nonce })
		out = append(out, g...)
	}
	return out
}
