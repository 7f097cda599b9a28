// Package mempool holds one chain's verified, not yet committed transactions.
// A transaction's signature is checked once, on admission; duplicates,
// replays (stale nonces), wrong-chain and expired transactions are refused
// with a reason; each sender has a quota and the pool a hard memory bound.
package mempool

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// Rejection reasons. Add wraps one of these.
var (
	ErrWrongChain  = errors.New("transaction is for another chain")
	ErrDuplicate   = errors.New("transaction already in the pool")
	ErrReplayed    = errors.New("nonce already used (replay)")
	ErrNonceGap    = errors.New("nonce too far ahead of the sender's next nonce")
	ErrExpired     = errors.New("transaction expired")
	ErrSenderQuota = errors.New("sender has too many pending transactions")
	ErrFull        = errors.New("mempool is full")
)

// NonceSource returns a sender's next nonce in committed state.
type NonceSource func(a chain.Address) (uint64, error)

// Config bounds a pool.
type Config struct {
	Suite        crypto.Suite
	ChainID      string
	MaxTxs       int // total transactions held
	MaxBytes     int // total encoded bytes held
	MaxPerSender int // pending transactions per sender; also the largest nonce gap
	// Verify checks a transaction's signature and sender binding; nil uses
	// tx.Verify with Suite.
	Verify func(*chain.Tx) error
}

// DefaultConfig returns bounds for a node with a few GiB to spare.
func DefaultConfig(s crypto.Suite, chainID string) Config {
	return Config{Suite: s, ChainID: chainID, MaxTxs: 200_000, MaxBytes: 256 << 20, MaxPerSender: 1024}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Suite == nil || !chain.ValidName(c.ChainID) || c.MaxTxs <= 0 || c.MaxBytes <= 0 || c.MaxPerSender <= 0 {
		return fmt.Errorf("mempool: invalid config (suite, chain ID and positive bounds required)")
	}
	return nil
}

type entry struct {
	tx   *chain.Tx
	id   crypto.Hash
	size int
}

type account struct {
	byNonce map[uint64]*entry
}

// Pool is safe for concurrent use.
type Pool struct {
	cfg    Config
	nonces NonceSource

	mu struct {
		sync.Mutex
		ids      map[crypto.Hash]chain.Address
		accounts map[chain.Address]*account
		order    []chain.Address // senders in first-seen order, for fair batches
		count    int
		bytes    int
	}
}

// New returns an empty pool.
func New(cfg Config, nonces NonceSource) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Verify == nil {
		cfg.Verify = func(tx *chain.Tx) error { return tx.Verify(cfg.Suite) }
	}
	p := &Pool{cfg: cfg, nonces: nonces}
	p.mu.ids = make(map[crypto.Hash]chain.Address)
	p.mu.accounts = make(map[chain.Address]*account)
	return p, nil
}

// Add admits tx if it is valid at the given head height, returning its ID.
// The signature is verified outside the lock.
func (p *Pool) Add(tx *chain.Tx, height uint64) (crypto.Hash, error) {
	if err := p.Precheck(tx, height); err != nil {
		return crypto.Hash{}, err
	}
	if err := p.cfg.Verify(tx); err != nil {
		return crypto.Hash{}, err
	}
	return p.admit(tx)
}

// AddVerified is Add for a transaction whose signature and sender binding
// the caller has checked (chain.VerifyTxs, as Config.Verify would): a batch
// verifies its signatures together. Verified then vouches for it, so
// passing an unchecked transaction here lets it skip verification in
// proposals.
func (p *Pool) AddVerified(tx *chain.Tx, height uint64) (crypto.Hash, error) {
	if err := p.Precheck(tx, height); err != nil {
		return crypto.Hash{}, err
	}
	return p.admit(tx)
}

// Precheck refuses, without verifying a signature, a transaction Add would
// refuse for its chain or expiry at the given head height.
func (p *Pool) Precheck(tx *chain.Tx, height uint64) error {
	if tx.ChainID != p.cfg.ChainID {
		return fmt.Errorf("%w: %q, this chain is %q", ErrWrongChain, tx.ChainID, p.cfg.ChainID)
	}
	if tx.Expiry != 0 && tx.Expiry <= height {
		return fmt.Errorf("%w: expiry height %d, chain at %d", ErrExpired, tx.Expiry, height)
	}
	return nil
}

// admit applies nonce, duplicate, quota and size rules to a verified tx.
func (p *Pool) admit(tx *chain.Tx) (crypto.Hash, error) {
	id := tx.ID(p.cfg.Suite)
	sender := tx.SenderAddress(p.cfg.Suite)
	next, err := p.nonces(sender)
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("mempool: read nonce: %w", err)
	}
	switch {
	case tx.Nonce < next:
		return id, fmt.Errorf("%w: nonce %d, next is %d", ErrReplayed, tx.Nonce, next)
	case tx.Nonce-next >= uint64(p.cfg.MaxPerSender):
		return id, fmt.Errorf("%w: nonce %d, next is %d", ErrNonceGap, tx.Nonce, next)
	}
	size := len(tx.Encode())
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.mu.ids[id]; dup {
		return id, ErrDuplicate
	}
	acct := p.mu.accounts[sender]
	if acct != nil {
		if _, taken := acct.byNonce[tx.Nonce]; taken {
			return id, fmt.Errorf("%w: another transaction holds nonce %d", ErrDuplicate, tx.Nonce)
		}
		if len(acct.byNonce) >= p.cfg.MaxPerSender {
			return id, ErrSenderQuota
		}
	}
	if p.mu.count >= p.cfg.MaxTxs || p.mu.bytes+size > p.cfg.MaxBytes {
		return id, ErrFull
	}
	if acct == nil {
		acct = &account{byNonce: make(map[uint64]*entry)}
		p.mu.accounts[sender] = acct
		p.mu.order = append(p.mu.order, sender)
	}
	acct.byNonce[tx.Nonce] = &entry{tx: tx, id: id, size: size}
	p.mu.ids[id] = sender
	p.mu.count++
	p.mu.bytes += size
	return id, nil
}

// Has reports whether a transaction is pending.
func (p *Pool) Has(id crypto.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.mu.ids[id]
	return ok
}

// Len returns the number of pending transactions and their encoded bytes.
func (p *Pool) Len() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.count, p.mu.bytes
}

// Batch returns up to max transactions executable in order on committed
// state in a block at the given height (the head's height plus one): for each
// sender, consecutive nonces from its next committed nonce. Senders take
// turns, so none can starve the others. The pool keeps the transactions
// until Update removes them.
func (p *Pool) Batch(max int, height uint64) []*chain.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	type cursor struct {
		acct *account
		next uint64
	}
	var curs []cursor
	for _, a := range p.mu.order {
		acct := p.mu.accounts[a]
		next, err := p.nonces(a)
		if err != nil || acct == nil {
			continue
		}
		if _, ok := acct.byNonce[next]; ok {
			curs = append(curs, cursor{acct, next})
		}
	}
	var out []*chain.Tx
	for len(out) < max && len(curs) > 0 {
		live := curs[:0]
		for _, c := range curs {
			if len(out) >= max {
				break
			}
			e, ok := c.acct.byNonce[c.next]
			if !ok {
				continue
			}
			if e.tx.Expiry != 0 && e.tx.Expiry < height {
				continue // a gap now: later nonces wait; Update evicts it
			}
			out = append(out, e.tx)
			c.next++
			live = append(live, c)
		}
		curs = live
	}
	return out
}

// Update removes committed transactions and evicts those made invalid by the
// new head: nonces below the sender's committed nonce and expired ones.
func (p *Pool) Update(committed []*chain.Tx, height uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	touched := make(map[chain.Address]bool)
	for _, tx := range committed {
		id := tx.ID(p.cfg.Suite)
		if a, ok := p.mu.ids[id]; ok {
			touched[a] = true
		} else {
			touched[tx.SenderAddress(p.cfg.Suite)] = true
		}
	}
	removed := false
	for a, acct := range p.mu.accounts {
		next := uint64(0)
		if touched[a] {
			// Only senders in the block can have new stale nonces.
			n, err := p.nonces(a)
			if err != nil {
				continue
			}
			next = n
		}
		for n, e := range acct.byNonce {
			if n < next || (e.tx.Expiry != 0 && e.tx.Expiry <= height) {
				p.removeLocked(a, acct, n, e)
				removed = true
			}
		}
	}
	if removed {
		order := p.mu.order[:0]
		for _, a := range p.mu.order {
			if _, ok := p.mu.accounts[a]; ok {
				order = append(order, a)
			}
		}
		p.mu.order = order
	}
}

func (p *Pool) removeLocked(a chain.Address, acct *account, n uint64, e *entry) {
	delete(acct.byNonce, n)
	delete(p.mu.ids, e.id)
	p.mu.count--
	p.mu.bytes -= e.size
	if len(acct.byNonce) == 0 {
		delete(p.mu.accounts, a)
	}
}

// NextNonce returns the first nonce at or after committed that no pending
// transaction of sender a holds.
func (p *Pool) NextNonce(a chain.Address, committed uint64) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := committed
	if acct := p.mu.accounts[a]; acct != nil {
		for {
			if _, ok := acct.byNonce[n]; !ok {
				break
			}
			n++
		}
	}
	return n
}

// Remove drops a pending transaction (one the orderer refused).
func (p *Pool) Remove(id crypto.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.mu.ids[id]
	if !ok {
		return
	}
	acct := p.mu.accounts[a]
	for n, e := range acct.byNonce {
		if e.id == id {
			p.removeLocked(a, acct, n, e)
			break
		}
	}
}

// Verified reports whether tx — the same body and the same signature bytes —
// is pending here, so its signature was verified on admission.
func (p *Pool) Verified(tx *chain.Tx) bool {
	id := tx.ID(p.cfg.Suite)
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.mu.ids[id]
	if !ok {
		return false
	}
	e := p.mu.accounts[a].byNonce[tx.Nonce]
	return e != nil && e.id == id && bytes.Equal(e.tx.Sig, tx.Sig) && bytes.Equal(e.tx.PubKey, tx.PubKey)
}
