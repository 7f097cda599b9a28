package smartbft

import (
	"context"
	"time"

	protos "github.com/hyperledger-labs/SmartBFT/smartbftprotos"
	"google.golang.org/protobuf/proto"
)

// resendEvery is how often a leader re-sends a proposal it restored from
// its WAL until the proposal commits or the view-change timeout passes.
const resendEvery = 500 * time.Millisecond

// restoredPrePrepare returns the pre-prepare SmartBFT restores from the WAL
// (its last entry is a proposal this node accepted and had not yet seen
// prepared), or nil.
func restoredPrePrepare(entries [][]byte) *protos.PrePrepare {
	if len(entries) == 0 {
		return nil
	}
	m := &protos.SavedMessage{}
	if proto.Unmarshal(entries[len(entries)-1], m) != nil {
		return nil // SmartBFT refuses to start on such a WAL anyway
	}
	return m.GetProposedRecord().GetPrePrepare()
}

// resendRestored re-sends the pre-prepare of a proposal this node led and
// restored from its WAL. SmartBFT restores such a proposal in the PROPOSED
// phase and re-broadcasts only its prepare: if the node stopped after
// logging the proposal and before any follower received it (a cold restart),
// the followers wait for a pre-prepare that never comes, and unless they hold
// requests of their own nobody complains, so ordering stops. Sending the
// logged message again is what the network might have done anyway (SmartBFT
// drops duplicates when it moves to the next sequence), so it is safe; it
// stops once the proposal commits, the node is no longer the leader, or a
// view change timeout has passed (then the library's own view change is in
// charge).
func (e *Engine) resendRestored(ctx context.Context, h *host, pp *protos.PrePrepare) {
	if pp.Seq != e.cfg.App.Head().Height+1 {
		return // committed meanwhile (sync on start), or not the next block
	}
	m := &protos.Message{Content: &protos.Message_PrePrepare{PrePrepare: pp}}
	t := time.NewTicker(resendEvery)
	defer t.Stop()
	deadline := time.Now().Add(e.cfg.ViewChangeTimeout)
	for {
		c := e.consensus()
		if c == nil || c.GetLeaderID() != e.self || e.cfg.App.Head().Height >= pp.Seq || time.Now().After(deadline) {
			return
		}
		e.log.Info("re-sending the proposal restored from the WAL", "height", pp.Seq, "view", pp.View)
		for _, n := range e.nodes {
			if n != e.self {
				h.SendConsensus(n, m)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
