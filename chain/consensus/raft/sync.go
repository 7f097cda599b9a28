package raft

import (
	"errors"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/blocksync"
)

// ErrSync is returned when the blocks a snapshot needs could not be fetched.
var ErrSync = errors.New("raft: block sync did not reach the snapshot")

// newSyncer fetches committed blocks from peers when a snapshot from the
// leader is ahead of the ledger (the log before it was compacted away), and
// serves the same requests. Each block must carry a certificate valid for
// the validator set and is re-executed on delivery (its roots must match).
func newSyncer(e *Engine) *blocksync.Syncer {
	return blocksync.New(blocksync.Config{
		Suite: e.cfg.Suite, Validators: e.cfg.Validators, Ledger: e.cfg.App, Deliver: e.cfg.App.Deliver,
		Net: e.cfg.Net, Self: e.self, RequestKind: kindSyncAsk, ResponseKind: kindSyncGive, Logger: e.log,
	})
}

// syncTo fetches blocks until the ledger reaches target, within the given
// time, or the engine fails or stops. When the peers ahead have all pruned
// the next block, blocks cannot come by sync: the engine fails with a
// BehindError and the runner restores a state snapshot.
func (e *Engine) syncTo(target uint64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for e.cfg.App.Head().Height < target {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: at %d of %d after %v", ErrSync, e.cfg.App.Head().Height, target, within)
		}
		select {
		case <-e.failed:
			return ErrSync
		case <-e.stopping:
			return fmt.Errorf("%w: the engine is stopping", ErrSync)
		default:
		}
		if progress, _ := e.syncer.Round(target); progress {
			continue
		}
		head := e.cfg.App.Head().Height
		if len(blocksync.PrunedPast(e.syncer.LastRound(), head)) > 0 {
			err := fmt.Errorf("%w: peers pruned the blocks after %d", ErrSync, head)
			e.fail(fmt.Errorf("%w: %w", err, &consensus.BehindError{Height: target, Head: head}))
			return err
		}
		// Nobody had the next block yet: wait before asking again.
		select {
		case <-e.failed:
			return ErrSync
		case <-e.stopping:
			return fmt.Errorf("%w: the engine is stopping", ErrSync)
		case <-time.After(syncRetry):
		}
	}
	return nil
}

// syncRetry is the pause between sync rounds that fetched nothing.
const syncRetry = 100 * time.Millisecond
