package raft

import (
	"context"
	"errors"
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// pollEvery is how often the leader loop looks at Raft's state when it has
// nothing else to wait for.
const pollEvery = 20 * time.Millisecond

// lead is the leader's loop: while this node leads, it certifies the pending
// block if there is one, else proposes the next block when transactions are
// waiting. One block is in flight at a time.
func (e *Engine) lead(ctx context.Context) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	caughtUp := false
	for ctx.Err() == nil {
		wake := e.cfg.App.Wake()
		if !e.isLeader() {
			caughtUp = false
			e.idle(ctx, tick.C, nil)
			continue
		}
		r := e.r.Load()
		if r == nil {
			return
		}
		if !caughtUp {
			// A new leader first applies every committed entry, so it sees
			// the pending block before proposing another.
			if err := r.Barrier(e.cfg.RPCTimeout).Error(); err != nil {
				e.idle(ctx, tick.C, nil)
				continue
			}
			caughtUp = true
		}
		if p, hh, sig := e.fsm.pendingBlock(); p != nil {
			if err := e.certify(ctx, r, p, hh, sig, tick.C); err != nil && !errors.Is(err, errNotLeader) {
				e.log.Debug("certify", "height", p.Header.Height, "err", err)
			}
			continue
		}
		if _, h := e.cfg.App.NextValidators(); h != e.setHash || !e.cfg.App.Pending() {
			// Nothing to order, or the next height is another set's.
			e.idle(ctx, tick.C, wake)
			continue
		}
		b, err := e.propose()
		if err != nil {
			e.fail(err)
			return
		}
		if b == nil { // pending transactions cannot go in yet (a nonce gap)
			e.idle(ctx, tick.C, wake)
			continue
		}
		e.fsm.markBuilt(b.Header.Hash(e.cfg.Suite))
		f := r.Apply(encodeProposal(b), e.cfg.RPCTimeout)
		if err := f.Error(); err != nil {
			e.log.Debug("proposal not committed", "height", b.Header.Height, "err", err)
			continue
		}
		if a, ok := f.Response().(applied); ok && a.skipped != nil {
			e.log.Warn("own proposal skipped", "height", b.Header.Height, "err", a.skipped)
			e.idle(ctx, tick.C, nil)
		}
	}
}

// idle waits for ctx, a tick or wake (if not nil).
func (e *Engine) idle(ctx context.Context, tick <-chan time.Time, wake <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-tick:
	case <-wake:
	}
}

// propose builds the next block from the mempool, halving the batch until
// its log entry fits one message.
func (e *Engine) propose() (*chain.Block, error) {
	head := e.cfg.App.Head()
	now := uint64(e.cfg.Clock().UnixMilli())
	if now <= head.Time {
		now = head.Time + 1
	}
	for max := e.cfg.MaxTxs; ; max /= 2 {
		b, err := e.cfg.App.Propose(e.cfg.SelfID, now, max)
		if err != nil {
			return nil, fmt.Errorf("raft: propose: %w", err)
		}
		if b == nil {
			return nil, nil
		}
		if n := len(b.Encode()); n <= maxData-1 {
			return b, nil
		} else if len(b.Txs) <= 1 {
			return nil, fmt.Errorf("raft: a one-transaction block of %d bytes exceeds %d", n, maxData)
		}
		if max > len(b.Txs) {
			max = len(b.Txs)
		}
	}
}

// certify gathers a majority of signatures over the pending block and
// appends the certificate entry. It asks the validators whose signature is
// missing every VoteRetry.
func (e *Engine) certify(ctx context.Context, r *hraft.Raft, p *chain.Block, hh crypto.Hash, sig []byte, tick <-chan time.Time) error {
	h := p.Header.Height
	e.votes.add(e.self, vote{height: h, hash: hh, sig: sig})
	retry := time.NewTimer(0)
	defer retry.Stop()
	q := e.cfg.Validators.Quorum()
	for {
		changed := e.votes.wait()
		c, missing := e.votes.commit(h, hh, e.nodes)
		if len(c.Sigs) >= q {
			f := r.Apply(encodeCert(certEntry{height: h, hash: hh, commit: c}), e.cfg.RPCTimeout)
			if err := f.Error(); err != nil {
				return err
			}
			if a, ok := f.Response().(applied); ok && a.skipped != nil {
				return a.skipped
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick:
		case <-retry.C:
			ask := encodeVote(kindVoteAsk, vote{height: h, hash: hh})
			for _, n := range missing {
				if n != e.self {
					e.cfg.Net.Send(n, ask)
				}
			}
			retry.Reset(e.cfg.VoteRetry)
		}
		if !e.isLeader() {
			return errNotLeader
		}
		if cur, _, _ := e.fsm.pendingBlock(); cur != p {
			return nil
		}
	}
}
