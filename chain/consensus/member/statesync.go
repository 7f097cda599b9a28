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

// ahead returns the peers of the syncer's last round whose heads are past
// this node's, and the heads the validators among them claim (of the set
// certifying the next block), highest first. Heads and bases are claims:
// on a BFT set the node acts only on what f+1 validators say (one of them
// is honest), on a crash-fault-only set on what one says.
func (r *Runner) ahead() (peers []blocksync.PeerHead, vouched []uint64) {
	head := r.cfg.App.Head().Height
	vs, _ := r.cfg.App.NextValidators()
	for _, p := range r.sync.LastRound() {
		if p.Head <= head {
			continue
		}
		peers = append(peers, p)
		if vs.Index(r.cfg.Dir.ID(p.Node)) >= 0 {
			vouched = append(vouched, p.Head)
		}
	}
	slices.SortFunc(vouched, func(a, b uint64) int { return cmp.Compare(b, a) })
	need := vs.Vouchers()
	if len(vouched) < need {
		return peers, nil
	}
	return peers, vouched[:need]
}

// prunedPast returns the peers of the syncer's last round that are past
// the head when all of those have pruned the block after it and enough
// validators say so (ahead), else nil: then blocks can still come by block
// sync, or nothing is proven.
func (r *Runner) prunedPast() []uint64 {
	head := r.cfg.App.Head().Height
	peers, vouched := r.ahead()
	if len(vouched) == 0 {
		return nil
	}
	out := make([]uint64, 0, len(peers))
	for _, p := range peers {
		if p.Base <= head+1 {
			return nil
		}
		out = append(out, p.Node)
	}
	return out
}

// provenHead returns a height enough validators claim to have reached
// above this node's head (the lowest of f+1 claims on a BFT set), or 0.
func (r *Runner) provenHead() uint64 {
	if _, vouched := r.ahead(); len(vouched) > 0 {
		return vouched[len(vouched)-1]
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
