package smartbft

import (
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// gaps holds transactions that would leave a nonce gap in SmartBFT's
// request pool: their sender's earlier nonces are neither committed nor in
// the pool. In the pool such a transaction can never be included, yet a
// leader proposes while its pool holds anything, so one client could keep
// a chain committing empty blocks for ever. A held transaction goes to the
// pool once the gap fills, by a commit or by its predecessor arriving.
type gaps struct {
	suite crypto.Suite
	// committed returns a sender's next nonce in committed state.
	committed func(a chain.Address) (uint64, error)

	mu    sync.Mutex
	free  map[chain.Address]uint64            // next nonce not in the pool, when above committed
	held  map[chain.Address]map[uint64][]byte // raw transactions by nonce
	count int                                 // held transactions
	bytes int                                 // their encodings' bytes
}

// Bounds of what gaps holds; past them a transaction is dropped (its
// client resubmits, or its node's mempool hands it over again). Bytes bound
// memory: 100,000 transactions of up to 65 KiB each would be 6.5 GB.
const (
	maxHeld          = 100_000
	maxHeldPerSender = 1024
	maxHeldBytes     = 64 << 20
)

func newGaps(s crypto.Suite, committed func(chain.Address) (uint64, error)) *gaps {
	return &gaps{suite: s, committed: committed, free: map[chain.Address]uint64{}, held: map[chain.Address]map[uint64][]byte{}}
}

// admit returns what may go to the pool now that tx (encoded raw) came:
// tx itself and any held successors it makes contiguous, or nothing when
// tx waits behind a gap. A nonce below the free one passes (a duplicate or
// a stale transaction: the pool and pruning deal with it).
func (g *gaps) admit(tx *chain.Tx, raw []byte) [][]byte {
	a := tx.SenderAddress(g.suite)
	next, err := g.committed(a)
	if err != nil {
		return [][]byte{raw}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	free := max(next, g.free[a])
	switch {
	case tx.Nonce < free:
		return [][]byte{raw}
	case tx.Nonce > free:
		h := g.held[a]
		if _, dup := h[tx.Nonce]; dup || g.count >= maxHeld || len(h) >= maxHeldPerSender || g.bytes+len(raw) > maxHeldBytes {
			return nil
		}
		if h == nil {
			h = map[uint64][]byte{}
			g.held[a] = h
		}
		h[tx.Nonce] = raw
		g.count++
		g.bytes += len(raw)
		return nil
	}
	return g.runLocked(a, free, [][]byte{raw})
}

// runLocked appends the held transactions of a from nonce from+1 on while
// they are contiguous and records the new free nonce.
func (g *gaps) runLocked(a chain.Address, from uint64, out [][]byte) [][]byte {
	n := from + 1
	h := g.held[a]
	for {
		raw, ok := h[n]
		if !ok {
			break
		}
		out = append(out, raw)
		g.dropLocked(h, n)
		n++
	}
	if len(h) == 0 {
		delete(g.held, a)
	}
	if len(g.free) >= maxHeld {
		// Senders whose runs never commit: forget them all (their later
		// nonces then wait for a commit instead).
		clear(g.free)
	}
	g.free[a] = n
	return out
}

// dropLocked forgets the held transaction with nonce n of one sender (h).
func (g *gaps) dropLocked(h map[uint64][]byte, n uint64) {
	g.count--
	g.bytes -= len(h[n])
	delete(h, n)
}

// committedBlock returns the held transactions a committed block made
// contiguous (its senders' nonces moved) and forgets what it made stale.
func (g *gaps) committedBlock(txs []*chain.Tx) [][]byte {
	var out [][]byte
	seen := map[chain.Address]bool{}
	for _, tx := range txs {
		a := tx.SenderAddress(g.suite)
		if seen[a] {
			continue
		}
		seen[a] = true
		next, err := g.committed(a)
		if err != nil {
			continue
		}
		g.mu.Lock()
		if g.free[a] <= next {
			delete(g.free, a)
		}
		for n := range g.held[a] {
			if n < next {
				g.dropLocked(g.held[a], n)
			}
		}
		if raw, ok := g.held[a][next]; ok && g.free[a] <= next {
			g.dropLocked(g.held[a], next)
			out = g.runLocked(a, next, append(out, raw))
		}
		if len(g.held[a]) == 0 {
			delete(g.held, a)
		}
		g.mu.Unlock()
	}
	return out
}
