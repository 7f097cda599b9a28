package member

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/polityledger/polity/chain/consensus/blocksync"
)

// DefaultProbeAfter is how long a validator's chain goes without a commit
// before the runner probes its peers for pruning past its head.
const DefaultProbeAfter = 2 * time.Second

// vouched returns the heads above head that validators (of the set
// certifying the next block) reported in a sync round, highest first, when
// enough of them are: heads and bases are claims, so on a BFT set the node
// acts only on what f+1 validators say (one of them is honest), on a
// crash-fault-only set on what one says. Else nil.
func (r *Runner) vouched(last []blocksync.PeerHead, head uint64) []uint64 {
	vs, _ := r.cfg.App.NextValidators()
	var heads []uint64
	for _, p := range last {
		if p.Head > head && vs.Index(r.cfg.Dir.ID(p.Node)) >= 0 {
			heads = append(heads, p.Head)
		}
	}
	need := vs.Vouchers()
	if len(heads) < need {
		return nil
	}
	slices.SortFunc(heads, func(a, b uint64) int { return cmp.Compare(b, a) })
	return heads[:need]
}

// prunedPast returns the peers of the syncer's last round that are past
// the head when all of those have pruned the block after it and enough
// validators say so, else nil: then blocks can still come by block sync,
// or nothing is proven.
func (r *Runner) prunedPast() []uint64 {
	last, head := r.sync.LastRound(), r.cfg.App.Head().Height
	if len(r.vouched(last, head)) == 0 {
		return nil
	}
	return blocksync.PrunedPast(last, head)
}

// provenHead returns a height enough validators claim to have reached
// above this node's head (the lowest of f+1 claims on a BFT set), or 0.
func (r *Runner) provenHead() uint64 {
	if v := r.vouched(r.sync.LastRound(), r.cfg.App.Head().Height); len(v) > 0 {
		return v[len(v)-1]
	}
	return 0
}

// restoreIfPruned, while the last round found the peers pruned past the head,
// restores a snapshot from one of them and fetches the blocks after it. It
// reports whether the head moved.
func (r *Runner) restoreIfPruned(ctx context.Context) bool {
	moved := false
	for ctx.Err() == nil {
		peers := r.prunedPast()
		if len(peers) == 0 || !r.stateSync(ctx, peers) {
			return moved
		}
		moved = true
		for ctx.Err() == nil {
			if progress, _ := r.sync.Round(0); !progress {
				break
			}
		}
	}
	return moved
}

// stateSync restores the first valid snapshot one of peers serves; a peer
// whose transfer fails or whose snapshot does not verify is logged and the
// next one tried.
func (r *Runner) stateSync(ctx context.Context, peers []uint64) bool {
	for _, p := range peers {
		start, from := time.Now(), r.cfg.App.Head().Height
		r.cfg.Logger.Info("peers pruned past the head: state sync", "chain", r.cfg.ChainID, "height", from, "peer", r.cfg.Dir.ID(p))
		h, err := r.fetchSnapshot(ctx, p)
		if err != nil {
			r.cfg.Logger.Warn("state sync from a peer failed; trying another", "chain", r.cfg.ChainID, "peer", r.cfg.Dir.ID(p), "err", err)
			continue
		}
		r.cfg.Logger.Info("state synced", "chain", r.cfg.ChainID, "from_height", from, "to_height", h, "peer", r.cfg.Dir.ID(p), "took", time.Since(start).Round(time.Millisecond))
		return true
	}
	return false
}

// errRestoreEnded stops a transfer whose restore returned.
var errRestoreEnded = errors.New("restore ended")

// fetchSnapshot streams peer's snapshot into the app's verified restore.
func (r *Runner) fetchSnapshot(ctx context.Context, peer uint64) (uint64, error) {
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		_, err := r.snaps.Fetch(ctx, peer, pw)
		pw.CloseWithError(err)
		fetched <- err
	}()
	h, err := r.cfg.App.StateSync(pr)
	pr.CloseWithError(errRestoreEnded)
	ferr := <-fetched
	switch {
	case ferr != nil && !errors.Is(ferr, errRestoreEnded):
		return 0, fmt.Errorf("transfer: %w", ferr)
	case err != nil:
		return 0, err
	}
	return h, nil
}
