package replica

import "github.com/polityledger/polity/chain"

// ReadyTxs returns up to max pending transactions executable in order on the
// head (what Propose would include next). Engines with their own request pool
// (SmartBFT) use it to hand the mempool to a restarted pool again.
func (r *Replica) ReadyTxs(max int) []*chain.Tx {
	return r.pool.Batch(r.maxTxs(max), r.led.Height()+1)
}
