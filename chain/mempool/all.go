package mempool

import (
	"slices"

	"github.com/polityledger/polity/chain"
)

// All returns up to max pooled transactions, each sender's in nonce order,
// executable or not (a new consensus engine takes over what an old one
// held, including nonces whose predecessors wait on another node).
func (p *Pool) All(max int) []*chain.Tx {
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
		slices.Sort(nonces)
		for _, n := range nonces {
			if len(out) >= max {
				return out
			}
			out = append(out, acct.byNonce[n].tx)
		}
	}
	return out
}
