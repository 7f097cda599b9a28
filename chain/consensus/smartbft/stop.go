package smartbft

import (
	"sync/atomic"
	"time"

	"github.com/hyperledger-labs/SmartBFT/pkg/api"
	"github.com/hyperledger-labs/SmartBFT/pkg/consensus"
)

// stopWait bounds how long stopping a SmartBFT instance may take before it
// is abandoned.
const stopWait = 5 * time.Second

// stopInstance stops c, or abandons it if Stop does not return within
// stopWait. SmartBFT v1.0.1 can deadlock its own Stop: when a view aborts
// while its decision waits in the controller's queue, the controller blocks
// for good handing the delivered decision back to a view that has left
// (Controller.decide sends on deliverChan; upstream PR #681), the view changer
// then blocks in AbortView on that controller, and Consensus.Stop waits for
// the view changer first. The frozen instance takes no more part: g turns its
// sends, deliveries and WAL writes into no-ops, and the caller starts a fresh
// instance from the ledger. Its blocked goroutines are leaked.
func stopInstance(c *consensus.Consensus, g *instanceGate) (abandoned bool) {
	done := make(chan struct{})
	go func() {
		c.Stop()
		close(done)
	}()
	select {
	case <-done:
		return false
	case <-time.After(stopWait):
		g.gone.Store(true)
		return true
	}
}

// instanceGate is closed for good when its SmartBFT instance is abandoned.
type instanceGate struct{ gone atomic.Bool }

// gatedWAL drops appends once its instance is abandoned, so a leaked
// instance never writes to the log the next instance owns.
type gatedWAL struct {
	w api.WriteAheadLog
	g *instanceGate
}

func (l gatedWAL) Append(entry []byte, truncateTo bool) error {
	if l.g.gone.Load() {
		return nil
	}
	return l.w.Append(entry, truncateTo)
}
