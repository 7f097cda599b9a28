// Package replica is one node's copy of one chain: its ledger, mempool and
// executor, driven by a consensus engine through consensus.Application, and
// the queries the API serves (transactions with proofs, state with proofs).
package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/mempool"
	"github.com/polityledger/polity/chain/module"
)

// Config assembles a replica.
type Config struct {
	Genesis  *chain.Genesis
	Suite    crypto.Suite
	Registry *module.Registry
	Dir      string
	Ledger   ledger.Options
	Logger   *slog.Logger
	// Executor builds the block executor; nil uses the serial one.
	Executor func(exec.Config) exec.Executor
}

// Replica is safe for concurrent use.
type Replica struct {
	cfg   Config // for state sync's restore
	g     *chain.Genesis
	suite crypto.Suite
	led   *ledger.Ledger
	pool  *mempool.Pool
	exe   exec.Executor
	reg   *module.Registry
	sink  TxSink
	log   *slog.Logger
	// deliverMu makes Deliver one call at a time.
	deliverMu sync.Mutex
	proofs    blockProofCache
	waiters   txWaiters

	mu struct {
		sync.Mutex
		wake      chan struct{} // closed when a tx is admitted
		committed chan struct{} // closed when a block is committed
		proposals map[crypto.Hash]*ledger.StateUpdate
		next      *chain.ValidatorSet // certifies the block after the head
		nextHash  crypto.Hash
	}
}

var _ consensus.Application = (*Replica)(nil)

// Open opens the chain's ledger (writing genesis if new).
func Open(cfg Config) (*Replica, error) {
	if err := cfg.Genesis.Validate(cfg.Suite); err != nil {
		return nil, err
	}
	led, err := ledger.Open(cfg.Dir, cfg.Suite, cfg.Ledger)
	if err != nil {
		return nil, err
	}
	if err := led.Init(cfg.Genesis); err != nil {
		led.Close()
		return nil, err
	}
	r := &Replica{cfg: cfg, g: cfg.Genesis, suite: cfg.Suite, led: led, reg: cfg.Registry, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.pool, err = mempool.New(mempool.DefaultConfig(cfg.Suite, cfg.Genesis.ChainID), r.nonce); err != nil {
		led.Close()
		return nil, err
	}
	ec := exec.Config{Suite: cfg.Suite, Registry: cfg.Registry, TxWorkLimit: cfg.Genesis.TxWorkLimit}
	if cfg.Executor != nil {
		r.exe = cfg.Executor(ec)
	} else {
		r.exe = exec.NewSerial(ec)
	}
	r.mu.wake = make(chan struct{})
	r.mu.committed = make(chan struct{})
	r.mu.proposals = make(map[crypto.Hash]*ledger.StateUpdate)
	if err := r.loadNext(); err != nil {
		led.Close()
		return nil, err
	}
	return r, nil
}

// Close closes the ledger. The engine must have stopped.
func (r *Replica) Close() error { return r.led.Close() }

// Genesis returns the chain's genesis.
func (r *Replica) Genesis() *chain.Genesis { return r.g }

// Suite returns the chain's crypto suite.
func (r *Replica) Suite() crypto.Suite { return r.suite }

// Ledger gives read access to the store.
func (r *Replica) Ledger() *ledger.Ledger { return r.led }

func (r *Replica) nonce(a chain.Address) (uint64, error) {
	v, err := r.led.Get(exec.NonceKey(a))
	if err != nil {
		return 0, err
	}
	return exec.DecodeNonce(v)
}

// PendingLen returns the mempool's transaction count and bytes.
func (r *Replica) PendingLen() (int, int) { return r.pool.Len() }

// Submit admits a transaction to the mempool.
func (r *Replica) Submit(tx *chain.Tx) (crypto.Hash, error) {
	if _, err := r.reg.Lookup(tx.Module, tx.Method); err != nil {
		return crypto.Hash{}, err
	}
	id, err := r.pool.Add(tx, r.led.Height())
	if err != nil {
		return id, err
	}
	if err := r.order(tx, id); err != nil {
		return id, err
	}
	r.notifyAdmitted()
	return id, nil
}

// Head implements consensus.Application.
func (r *Replica) Head() chain.Header {
	h, _ := r.led.Head()
	return h
}

// Pending implements consensus.Application.
func (r *Replica) Pending() bool {
	n, _ := r.pool.Len()
	return n > 0
}

// Wake implements consensus.Application.
func (r *Replica) Wake() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.wake
}

// Committed returns a channel closed at the next committed block.
func (r *Replica) Committed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.committed
}

func (r *Replica) maxTxs(max int) int {
	if r.g.MaxBlockTxs > 0 && r.g.MaxBlockTxs < max {
		return r.g.MaxBlockTxs
	}
	return max
}

// Propose implements consensus.Application.
func (r *Replica) Propose(proposer string, time uint64, max int) (*chain.Block, error) {
	txs := r.pool.Batch(r.maxTxs(max), r.led.Height()+1)
	if len(txs) == 0 {
		return nil, nil
	}
	b, err := r.Build(proposer, time, txs)
	if err != nil || len(b.Txs) == 0 {
		return nil, err
	}
	return b, nil
}

// Build executes txs on the head, dropping those invalid there (wrong
// nonce, expired, wrong chain), and returns the uncertified block, which
// may be empty. Engines with their own request pool (SmartBFT) use it.
func (r *Replica) Build(proposer string, time uint64, txs []*chain.Tx) (*chain.Block, error) {
	head, headHash := r.led.Head()
	if len(txs) > r.maxTxs(chain.MaxBlockTxs) {
		txs = txs[:r.maxTxs(chain.MaxBlockTxs)]
	}
	_, nextHash := r.NextValidators()
	b := &chain.Block{Header: chain.Header{ChainID: r.g.ChainID, Height: head.Height + 1, Time: time, Parent: headHash, Proposer: proposer, ValidatorsHash: nextHash}}
	res, err := r.exe.Execute(r.blockInfo(&b.Header), txs, r.led, exec.Build)
	if err != nil {
		return nil, err
	}
	for _, d := range res.Dropped {
		r.log.Debug("dropped transaction from proposal", "err", d.Err)
	}
	b.Txs = res.Txs
	su, err := r.finish(&b.Header, res, head.StateRoot)
	if err != nil {
		return nil, err
	}
	r.remember(b, su)
	return b, nil
}

// Stale reports whether tx can never be included any more: its nonce is
// used or it expired at the head.
func (r *Replica) Stale(tx *chain.Tx) bool {
	n, err := r.nonce(tx.SenderAddress(r.suite))
	return err == nil && tx.Nonce < n || tx.Expiry != 0 && tx.Expiry <= r.led.Height()
}

// Block returns the committed block at height h.
func (r *Replica) Block(h uint64) (*chain.Block, error) { return r.led.Block(h) }

// Base returns the lowest height whose block the ledger holds (the
// genesis aside).
func (r *Replica) Base() uint64 { return r.led.Base() }

// TxSink receives admitted transactions for ordering; engines with their
// own request pool (SmartBFT) implement it.
type TxSink interface {
	SubmitTx(raw []byte) error
}

// SetSink routes admitted transactions to an engine. Call before serving.
func (r *Replica) SetSink(s TxSink) { r.sink = s }

func (r *Replica) blockInfo(h *chain.Header) module.Block {
	return module.Block{ChainID: h.ChainID, Height: h.Height, Time: h.Time}
}

// finish fills the header's roots from an execution result.
func (r *Replica) finish(h *chain.Header, res *exec.Result, parentRoot crypto.Hash) (*ledger.StateUpdate, error) {
	ids := make([]crypto.Hash, len(res.Txs))
	for i, rc := range res.Receipts {
		ids[i] = rc.TxID
	}
	h.TxRoot = chain.TxRoot(r.suite, ids)
	h.TxCount = uint64(len(res.Txs))
	h.ReceiptsRoot = chain.ReceiptsRoot(r.suite, res.Receipts)
	su, err := r.led.Prepare(parentRoot, res.Writes)
	if err != nil {
		return nil, err
	}
	h.StateRoot = su.Root
	su.Receipts = res.Receipts
	su.NextValidators, err = r.changedValidators(res.Writes)
	return su, err
}

func (r *Replica) remember(b *chain.Block, su *ledger.StateUpdate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.proposals[b.Header.Hash(r.suite)] = su
}

// known reports whether this node built or verified a block with b's
// header on its head and b's transactions are the ones that header names:
// executing them again would give the same roots (a leader verifies its own
// proposal; SmartBFT may verify a proposal twice).
func (r *Replica) known(b *chain.Block) bool {
	r.mu.Lock()
	_, ok := r.mu.proposals[b.Header.Hash(r.suite)]
	r.mu.Unlock()
	if !ok {
		return false
	}
	return chain.TxRoot(r.suite, b.TxIDs(r.suite)) == b.Header.TxRoot
}

// take returns the state update remembered for a header and forgets every
// other proposal (they can no longer extend the head).
func (r *Replica) take(hh crypto.Hash) *ledger.StateUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	su := r.mu.proposals[hh]
	r.mu.proposals = make(map[crypto.Hash]*ledger.StateUpdate)
	return su
}

// Errors from the replica.
var (
	// ErrBadProposal wraps every reason Verify refuses a block.
	ErrBadProposal = errors.New("invalid proposal")
	// ErrNotOrdering is returned by Submit when the consensus engine cannot
	// take transactions (no leader yet, or its pool is full).
	ErrNotOrdering = errors.New("consensus is not accepting transactions")
)

// Verify implements consensus.Application.
func (r *Replica) Verify(b *chain.Block) error {
	head, headHash := r.led.Head()
	_, nextHash := r.NextValidators()
	h := b.Header
	switch {
	case h.ChainID != r.g.ChainID || h.Height != head.Height+1 || h.Parent != headHash:
		return fmt.Errorf("%w: does not extend head %d", ErrBadProposal, head.Height)
	case h.Time <= head.Time:
		return fmt.Errorf("%w: time %d not after parent's %d", ErrBadProposal, h.Time, head.Time)
	case h.ValidatorsHash != nextHash:
		return fmt.Errorf("%w: names validator set %s, not the chain's %s", ErrBadProposal, h.ValidatorsHash, nextHash)
	case uint64(len(b.Txs)) != h.TxCount || len(b.Txs) > r.maxTxs(chain.MaxBlockTxs):
		return fmt.Errorf("%w: %d transactions", ErrBadProposal, len(b.Txs))
	}
	if err := r.verifySignatures(b.Txs); err != nil {
		return err
	}
	if r.known(b) {
		return nil
	}
	res, err := r.exe.Execute(r.blockInfo(&h), b.Txs, r.led, exec.Verify)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadProposal, err)
	}
	want := h
	su, err := r.finish(&want, res, head.StateRoot)
	if err != nil {
		return err
	}
	if want != h {
		return fmt.Errorf("%w: header roots differ from re-execution", ErrBadProposal)
	}
	r.remember(b, su)
	return nil
}

// Deliver implements consensus.Application.
//
// Delivering a block the ledger already holds at its height is a no-op:
// an engine may be handed one decision twice (a log replayed after a
// restart, a sync racing a decision), and that is no fault.
func (r *Replica) Deliver(b *chain.Block) error {
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	hh := b.Header.Hash(r.suite)
	if h := b.Header.Height; h > 0 && h <= r.led.Height() {
		if have, _, err := r.led.Header(h); err == nil && have.Hash(r.suite) == hh {
			return nil
		}
	}
	su := r.take(hh)
	if su == nil {
		// Not built or verified here (a block from sync): execute it now.
		if err := r.Verify(b); err != nil {
			return err
		}
		su = r.take(hh)
	}
	if err := r.led.Commit(b, su); err != nil {
		return err
	}
	// Clients waiting on this block ask for its receipts next.
	r.proofs.put(&blockProof{height: b.Header.Height, receipts: su.Receipts, block: b})
	if nv := su.NextValidators; nv != nil {
		r.setNext(nv.Set)
		r.log.Info("validator set changes", "from_height", b.Header.Height+1, "validators", len(nv.Set.Validators), "hash", nv.Set.Hash(r.suite))
	}
	r.pool.Update(b.Txs, b.Header.Height)
	r.waiters.wake(b.Header.Height, su.Receipts)
	r.mu.Lock()
	close(r.mu.committed)
	r.mu.committed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// ErrNotCommitted is returned by WaitTx when ctx ends first.
var ErrNotCommitted = errors.New("transaction not committed yet")

// TxStatus is where a transaction stands.
type TxStatus int

const (
	TxUnknown TxStatus = iota
	TxPending
	TxCommitted
)

// TxState returns whether a transaction is committed (with its height and
// index), pending in the mempool, or unknown.
func (r *Replica) TxState(id crypto.Hash) (TxStatus, uint64, int, error) {
	h, i, err := r.led.TxLocation(id)
	switch {
	case err == nil:
		return TxCommitted, h, i, nil
	case !errors.Is(err, ledger.ErrNotFound):
		return TxUnknown, 0, 0, err
	case r.pool.Has(id):
		return TxPending, 0, 0, nil
	}
	return TxUnknown, 0, 0, nil
}

// verifySignatures checks every transaction's signature on all cores, in
// batches where the suite supports them, skipping those this node's mempool
// admitted with the same signature bytes (already verified). It reports the
// lowest failing index.
func (r *Replica) verifySignatures(txs []*chain.Tx) error {
	var todo []*chain.Tx
	var at []int
	for i, tx := range txs {
		if !r.pool.Verified(tx) {
			todo = append(todo, tx)
			at = append(at, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	for j, err := range r.verifyAll(todo) {
		if err != nil {
			return fmt.Errorf("%w: tx %d: %w", ErrBadProposal, at[j], err)
		}
	}
	return nil
}
