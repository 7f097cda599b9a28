package mempool

import (
	"sort"

	"github.com/polityledger/polity/chain"
)

// Pending returns up to max held transactions, executable now or not: each
// sender's in nonce order, senders in first-seen order.
func (p *Pool) Pending(max int) []*chain.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*chain.Tx
	for _, a := range p.mu.order {
		acct := p.mu.accounts[a]
		if acct == nil {
			continue
		}
		nonces := make([]uint64, 0, len(acct.byNonce))
		for n := range acct.byNonce {
			nonces = append(nonces, n)
		}
		sort.Slice(nonces, func(i, j int) bool { return nonces[i] < nonces[j] })
		for _, n := range nonces {
			if len(out) >= max {
				return out
			}
			out = append(out, acct.byNonce[n].tx)
		}
	}
	return out
}
