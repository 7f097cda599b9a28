package smartbft

import (
	"context"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// watchdog guards liveness where SmartBFT v1.0.1 does not:
//   - when the head has not moved for StuckAfter while a peer reports a
//     higher head, it asks for a restart (a follower's controller can stay
//     blocked after a sync aborts its view; upstream PR #681);
//   - a transaction pending for half the complaint timeout is handed to
//     SmartBFT again and sent to the leader. SmartBFT resends
//     neither a request lost on its way to the leader nor one whose holder
//     stopped its timers (a lone complaint stops them until a view change
//     that never comes). Resending before the leader's own timers expire
//     spares a view change: a leader missing one nonce of a sender cannot
//     include the later ones, keeps the head moving with empty blocks, and
//     after RequestForwardTimeout+RequestComplainTimeout stops its
//     heartbeats to have itself replaced.
func (e *Engine) watchdog(ctx context.Context, restart chan<- struct{}) {
	if e.cfg.StuckAfter <= 0 {
		return
	}
	tick := time.NewTicker(e.cfg.StuckAfter / 4)
	defer tick.Stop()
	resend := time.NewTicker(e.resendAfter() / 2)
	defer resend.Stop()
	last, since := e.cfg.App.Head().Height, time.Now()
	waiting := map[crypto.Hash]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-resend.C:
			waiting = e.resubmitWaiting(waiting, time.Now())
			continue
		case <-tick.C:
		}
		h := e.cfg.App.Head().Height
		if h != last {
			last, since = h, time.Now()
			continue
		}
		if time.Since(since) < e.cfg.StuckAfter {
			continue
		}
		if peer := e.syncer.peerHead(); peer > h {
			select {
			case restart <- struct{}{}:
			default:
			}
		}
		last, since = e.cfg.App.Head().Height, time.Now()
	}
}

// resendAfter is how long a transaction may be pending before it is
// resubmitted.
func (e *Engine) resendAfter() time.Duration {
	if d := e.cfg.RequestComplainTimeout / 2; d > 0 && d < e.cfg.StuckAfter {
		return d
	}
	return e.cfg.StuckAfter
}

// resubmitWaiting resubmits the pending transactions first seen in waiting
// at least resendAfter before now and returns when each pending one was
// first seen (or last resubmitted).
func (e *Engine) resubmitWaiting(waiting map[crypto.Hash]time.Time, now time.Time) map[crypto.Hash]time.Time {
	pending := e.cfg.App.PendingTxs(int(e.cfg.BatchMaxCount))
	seen := make(map[crypto.Hash]time.Time, len(pending))
	var old []*chain.Tx
	for _, tx := range pending {
		id := tx.ID(e.cfg.Suite)
		first, ok := waiting[id]
		if !ok {
			first = now
		}
		if now.Sub(first) >= e.resendAfter() {
			old, first = append(old, tx), now
		}
		seen[id] = first
	}
	e.resubmit(old)
	return seen
}

// resubmit hands txs to SmartBFT again, each also sent to the leader.
// SmartBFT's pool starts empty after a restart and the mempool alone
// proposes nothing, so without this a restart of every node holding a
// transaction would stall it for good.
func (e *Engine) resubmit(txs []*chain.Tx) {
	for _, tx := range txs {
		if err := e.SubmitTx(tx.Encode()); err != nil {
			e.log.Debug("resubmit", "err", err)
		}
	}
}
