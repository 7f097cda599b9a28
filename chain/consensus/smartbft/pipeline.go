package smartbft

import (
	"fmt"
	"sync"

	"github.com/polityledger/polity/chain"
)

// pipeline commits decided blocks off SmartBFT's critical path. SmartBFT
// calls Deliver from its controller and proposes nothing until it returns;
// the leader then waits up to BatchMaxInterval for a batch. Committing a
// block (state, tree nodes, receipts, index, one fsync) takes as long as a
// good part of that wait, so Deliver hands the block to a goroutine and
// returns: the next batch fills while the last block commits.
//
// Safety rests on one rule: every step that reads or extends the ledger
// waits for the commit in flight first (settle). In particular SmartBFT
// truncates its WAL only when it logs the next proposal, which it does after
// VerifyProposal (followers) or AssembleProposal and VerifyProposal (the
// leader), both of which settle first. So at every moment a decided block is
// in the ledger or in the WAL, as when Deliver committed in place; a crash
// mid-commit leaves the state a crash inside a synchronous Deliver left.
// Clients see a transaction committed only when its block is in the ledger.
type pipeline struct {
	mu   sync.Mutex
	done chan struct{} // closed when the last commit handed over ends; nil before any
}

// commitAsync commits b after every block handed over before it, and
// reports a failure by failing the engine (the ledger must never skip a
// decision).
func (e *Engine) commitAsync(b *chain.Block) {
	e.pipe.mu.Lock()
	prev, done := e.pipe.done, make(chan struct{})
	e.pipe.done = done
	e.pipe.mu.Unlock()
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		if e.failedErr() != nil {
			return // a block before b failed; b cannot extend the ledger
		}
		if err := e.deliver(b); err != nil {
			e.fail(fmt.Errorf("smartbft: deliver %d: %w", b.Header.Height, err))
		}
	}()
}

// settle waits until every block handed to commitAsync is committed, and
// returns the engine's failure if one failed.
func (e *Engine) settle() error {
	e.pipe.mu.Lock()
	done := e.pipe.done
	e.pipe.mu.Unlock()
	if done != nil {
		<-done
	}
	return e.failedErr()
}

// failedErr returns the error that failed the engine, or nil.
func (e *Engine) failedErr() error {
	e.fatalMu.Lock()
	defer e.fatalMu.Unlock()
	return e.fatal
}
