package smartbft

import (
	"context"

	"github.com/polityledger/polity/chain"
)

// Forwarded transactions are checked in batches. Every node sends the
// transactions it admits to the leader, so the leader checks most of a
// block's signatures as they arrive; one by one that cost it more than three
// times what a batch costs. Receive queues them and admitLoop drains the
// queue: whatever arrived while the last batch was checked forms the next,
// so an idle node still checks a lone transaction at once.
const (
	// forwardQueue and forwardQueueBytes bound the transactions waiting to
	// be checked (a faulty validator may flood us); beyond them one is
	// dropped (its sender's node resends pending transactions, see
	// watchdog).
	forwardQueue      = 16_384
	forwardQueueBytes = 32 << 20
	// forwardBatch bounds one batch.
	forwardBatch = 512
)

// queueForwarded hands a forwarded transaction to admitLoop.
func (e *Engine) queueForwarded(raw []byte) {
	if len(raw) > chain.MaxTxSize {
		return
	}
	n := int64(len(raw))
	if e.forwardedBytes.Add(n) <= forwardQueueBytes {
		select {
		case e.forwarded <- raw:
			return
		default:
		}
	}
	e.forwardedBytes.Add(-n)
	e.log.Debug("forwarded transaction queue full; dropped one")
}

// nextForwarded takes a queued transaction off the byte count.
func (e *Engine) nextForwarded(raw []byte) []byte {
	e.forwardedBytes.Add(-int64(len(raw)))
	return raw
}

// admitLoop checks and admits queued forwarded transactions until ctx ends.
func (e *Engine) admitLoop(ctx context.Context) {
	batch := make([][]byte, 0, forwardBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case raw := <-e.forwarded:
			batch = append(batch[:0], e.nextForwarded(raw))
		}
	more:
		for len(batch) < forwardBatch {
			select {
			case raw := <-e.forwarded:
				batch = append(batch, e.nextForwarded(raw))
			default:
				break more
			}
		}
		e.admitForwarded(batch)
	}
}

// admitForwarded takes transactions other nodes forwarded (or SmartBFT's
// own request forwarding sent): checked as SmartBFT's VerifyRequest would,
// with the signatures in one batch, each goes to the pool once its sender's
// earlier nonces are there. Without a running SmartBFT instance they are
// dropped, as SmartBFT would drop them.
func (e *Engine) admitForwarded(raws [][]byte) {
	c := e.consensus()
	if c == nil {
		return
	}
	txs := make([]*chain.Tx, 0, len(raws))
	kept := make([][]byte, 0, len(raws))
	for _, raw := range raws {
		if tx, err := e.dec.tx(raw); err == nil && tx.ChainID == e.cfg.ChainID {
			txs, kept = append(txs, tx), append(kept, raw)
		}
	}
	for i, err := range chain.VerifyTxs(e.cfg.Suite, txs) {
		if err == nil {
			_ = e.toPool(c, e.gaps.admit(txs[i], kept[i]), nil)
		}
	}
}
