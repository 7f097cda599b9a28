package member

import (
	"context"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// follow fetches blocks from the validators of the set certifying the next
// block until that set changes or ctx ends.
func (r *Runner) follow(ctx context.Context, hash crypto.Hash) {
	r.cfg.Logger.Info("following", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "set", hash)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		if _, h := r.cfg.App.NextValidators(); h != hash {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		if progress, _ := r.sync.Round(0); progress {
			wait.Reset(0)
		} else if r.restoreIfPruned(ctx) {
			wait.Reset(0)
		} else {
			wait.Reset(r.cfg.FollowEvery)
		}
	}
}

// catchUp fetches blocks from the validators of the set certifying the
// next block until the ledger reaches height, that set changes, ctx ends,
// the peers turn out to have pruned past the head (Run's next turn restores
// a state snapshot) or catchUpIdle passes without a block (the height was a
// peer's claim).
func (r *Runner) catchUp(ctx context.Context, hash crypto.Hash, height uint64) {
	last := time.Now()
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		if _, h := r.cfg.App.NextValidators(); h != hash || r.cfg.App.Head().Height >= height {
			return
		}
		if time.Since(last) > catchUpIdle {
			r.cfg.Logger.Warn("catch-up brought nothing: validating again", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "to", height)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		if progress, _ := r.sync.Round(height); progress {
			last = time.Now()
			wait.Reset(0)
		} else if len(r.prunedPast()) > 0 {
			return // the caller restores a state snapshot
		} else {
			wait.Reset(r.cfg.FollowEvery)
		}
	}
}

// forward sends a follower's admitted transaction to f+1 validators,
// starting at a different one each time.
func (r *Runner) forward(raw []byte) error {
	vs, _ := r.cfg.App.NextValidators()
	to := r.validatorNumbers()
	if len(to) == 0 {
		return fmt.Errorf("%w: %s: no validator reachable to forward to", ErrFollower, r.cfg.ChainID)
	}
	msg := append([]byte{kindForward}, raw...)
	n := min(len(to), len(vs.Validators)-vs.Quorum()+1)
	start := int(r.forwards.Add(1))
	for i := 0; i < n; i++ {
		r.cfg.Net.Send(to[(start+i)%len(to)], msg)
	}
	return nil
}

// admitForwarded admits a transaction a follower forwarded, if this node
// validates; refusals (duplicate, stale nonce, full pool) are the
// follower's client's to retry.
func (r *Runner) admitForwarded(from uint64, raw []byte) {
	if !r.Validating() || len(raw) > chain.MaxTxSize {
		return
	}
	tx, err := chain.DecodeTx(raw)
	if err != nil || tx.ChainID != r.cfg.ChainID {
		return
	}
	if _, err := r.cfg.App.Submit(tx); err != nil {
		r.cfg.Logger.Debug("forwarded transaction refused", "chain", r.cfg.ChainID, "from", r.cfg.Dir.ID(from), "err", err)
	}
}

// validatorNumbers returns the network numbers of the validators of the
// set certifying the next block.
func (r *Runner) validatorNumbers() []uint64 {
	vs, _ := r.cfg.App.NextValidators()
	out := make([]uint64, 0, len(vs.Validators))
	for _, v := range vs.Validators {
		if n := r.cfg.Dir.Number(v.ID); n != 0 && v.ID != r.cfg.SelfID {
			out = append(out, n)
		}
	}
	return out
}
