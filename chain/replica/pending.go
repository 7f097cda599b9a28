package replica

import "github.com/polityledger/polity/chain"

// PendingTxs returns up to max transactions of the mempool, executable now
// or not. Engines with their own request pool (SmartBFT) use it to hand the
// mempool to a restarted pool again.
func (r *Replica) PendingTxs(max int) []*chain.Tx { return r.pool.Pending(max) }
