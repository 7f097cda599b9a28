package smartbft

import (
	"fmt"

	"github.com/hyperledger-labs/SmartBFT/pkg/api"
	"github.com/hyperledger-labs/SmartBFT/pkg/types"

	"github.com/polityledger/polity/chain/consensus/blocksync"
)

// syncMaxRounds bounds one Sync: each round must make progress or Sync
// returns.
const syncMaxRounds = 1000

// syncer implements SmartBFT's Synchronizer with real block transfer
// (blocksync): it asks every peer for the blocks after our head, checks each
// block's certificate against the validator set and commits it
// (re-executing it: the header's roots must match), and serves the same
// requests to peers.
type syncer struct {
	e *Engine
	*blocksync.Syncer
}

var _ api.Synchronizer = (*syncer)(nil)

func newSyncer(e *Engine) *syncer {
	return &syncer{e: e, Syncer: blocksync.New(blocksync.Config{
		Suite: e.cfg.Suite, Validators: e.cfg.Validators, Ledger: e.cfg.App, Deliver: e.deliver,
		Net: e.cfg.Net, Self: e.self, RequestKind: kindSyncRequest, ResponseKind: kindSyncResponse, Logger: e.log,
	})}
}

// Sync implements api.Synchronizer.
func (s *syncer) Sync() types.SyncResponse {
	if err := s.e.settle(); err != nil {
		return types.SyncResponse{} // the engine is stopping
	}
	for round := 0; round < syncMaxRounds; round++ {
		if progress, _ := s.Round(0); !progress {
			break
		}
	}
	head := s.e.cfg.App.Head()
	if head.Height == 0 {
		return types.SyncResponse{Latest: types.Decision{}}
	}
	b, err := s.e.cfg.App.Block(head.Height)
	if err != nil {
		s.e.fail(fmt.Errorf("smartbft: sync: read head: %w", err))
		return types.SyncResponse{}
	}
	p, sigs := decision(b)
	return types.SyncResponse{Latest: types.Decision{Proposal: p, Signatures: sigs}}
}

// peerHead runs one round and returns the highest head a peer reported.
func (s *syncer) peerHead() uint64 {
	_, head := s.Round(0)
	return head
}
