package replica

import (
	"fmt"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/merkle"
	"github.com/polityledger/polity/chain/proof"
)

func (r *Replica) certified(h uint64) (proof.Certified, error) {
	hdr, c, err := r.led.Header(h)
	if err != nil {
		return proof.Certified{}, err
	}
	vs, err := r.led.ValidatorSet(hdr.ValidatorsHash)
	if err != nil {
		return proof.Certified{}, err
	}
	// Engine metadata is signed by no one: bundles leave it out.
	c.Meta = nil
	cert := proof.Certified{Suite: r.suite.Name(), Header: *hdr, Commit: *c, Validators: *vs}
	cert.Anchor, cert.Transitions, err = r.transitions(h)
	return cert, err
}

// transitions returns the validator set changes that apply at or before
// height h as a light client checks them, from the set before the first:
// the genesis set, or after more than proof.MaxTransitions changes the set
// before the last MaxTransitions of them (a client trusting an older set
// then needs a bundle from an earlier height first).
func (r *Replica) transitions(h uint64) (*chain.ValidatorSet, []proof.Transition, error) {
	changes, err := r.led.Changes(h)
	if err != nil || len(changes) == 0 {
		return nil, nil, err
	}
	anchor := &r.g.Validators
	if k := len(changes) - proof.MaxTransitions; k > 0 {
		anchor, changes = changes[k-1].Set, changes[k:]
	}
	out := make([]proof.Transition, len(changes))
	for i, ch := range changes {
		hdr, c, err := r.led.Header(ch.Height)
		if err != nil {
			return nil, nil, err
		}
		c.Meta = nil
		out[i] = proof.Transition{Header: *hdr, Commit: *c, Next: *ch.Set, Path: ch.Proof}
	}
	return anchor, out, nil
}

// CommittedTx is a committed transaction with its receipt and proof.
type CommittedTx struct {
	Height uint64
	Index  int
	Bundle *proof.Bundle
}

// TxProof returns a committed transaction with an offline-verifiable bundle.
func (r *Replica) TxProof(id crypto.Hash) (*CommittedTx, error) {
	h, i, err := r.led.TxLocation(id)
	if err != nil {
		return nil, err
	}
	bp, err := r.blockProof(h)
	if err != nil {
		return nil, err
	}
	if i >= len(bp.block.Txs) || i >= len(bp.receipts) {
		return nil, fmt.Errorf("tx index %d out of block %d", i, h)
	}
	return &CommittedTx{Height: h, Index: i, Bundle: &proof.Bundle{
		Kind: proof.KindTx, Certified: bp.cert,
		Tx: bp.block.Txs[i], Receipt: bp.receipts[i], Index: uint64(i),
		TxPath:      bp.txTree.Path(i),
		ReceiptPath: bp.receiptTree.Path(i),
	}}, nil
}

// TxReceipt returns a committed transaction's height, index and receipt,
// without a proof: no block decoding, trees or certificate (what a client
// waiting on a batch is told).
func (r *Replica) TxReceipt(id crypto.Hash) (uint64, int, *chain.Receipt, error) {
	h, i, err := r.led.TxLocation(id)
	if err != nil {
		return 0, 0, nil, err
	}
	rc, err := r.ReceiptAt(h, i)
	return h, i, rc, err
}

// ReceiptAt returns the receipt of the transaction at index i of the block
// at height h (where WaitTx found it).
func (r *Replica) ReceiptAt(h uint64, i int) (*chain.Receipt, error) {
	bp, err := r.blockEntry(h)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(bp.receipts) {
		return nil, fmt.Errorf("tx index %d out of block %d", i, h)
	}
	return bp.receipts[i], nil
}

// blockProof is what proving any transaction of a committed block needs:
// decoding the block and building its two trees is O(block), so it is done
// once per block, not once per transaction (clients waiting on a block all
// ask for their proofs at once), and only when a proof is asked for.
type blockProof struct {
	height   uint64
	receipts []*chain.Receipt
	block    *chain.Block // nil until needed, unless delivered here

	once                sync.Once // fills the rest (and block if nil)
	err                 error
	cert                proof.Certified
	txTree, receiptTree *merkle.Tree
}

// blockProofCache keeps the last few blocks' proof material. Committed
// blocks never change, so an entry is never stale.
type blockProofCache struct {
	mu      sync.Mutex
	entries []*blockProof // most recently used last
}

// blockProofCacheSize covers the blocks clients are still waiting on.
const blockProofCacheSize = 8

func (c *blockProofCache) get(h uint64) *blockProof {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.height == h {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e
		}
	}
	return nil
}

func (c *blockProofCache) put(bp *blockProof) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= blockProofCacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, bp)
}

// blockEntry returns block h's cache entry, reading its receipts if it is
// not cached.
func (r *Replica) blockEntry(h uint64) (*blockProof, error) {
	if bp := r.proofs.get(h); bp != nil {
		return bp, nil
	}
	rcs, err := r.led.Receipts(h)
	if err != nil {
		return nil, err
	}
	bp := &blockProof{height: h, receipts: rcs}
	r.proofs.put(bp)
	return bp, nil
}

// blockProof returns block h's entry with the block, certificate and trees.
func (r *Replica) blockProof(h uint64) (*blockProof, error) {
	bp, err := r.blockEntry(h)
	if err != nil {
		return nil, err
	}
	bp.once.Do(func() {
		if bp.block == nil {
			if bp.block, bp.err = r.led.Block(h); bp.err != nil {
				return
			}
		}
		if bp.cert, bp.err = r.certified(h); bp.err != nil {
			return
		}
		ids := bp.block.TxIDs(r.suite)
		leaves := make([]crypto.Hash, len(ids))
		for j, id := range ids {
			leaves[j] = merkle.LeafHash(r.suite, id[:])
		}
		bp.txTree = merkle.NewTree(r.suite, leaves)
		bp.receiptTree = merkle.NewTree(r.suite, chain.ReceiptLeaves(r.suite, bp.receipts))
	})
	if bp.err != nil {
		return nil, bp.err
	}
	return bp, nil
}

// StateProof proves a full state key's value or absence at height h. The
// value itself is included only when h is the head (older values are not
// kept; their hashes are proven).
func (r *Replica) StateProof(key []byte, h uint64) (*proof.Bundle, error) {
	sp, err := r.led.ProveState(key, h)
	if err != nil {
		return nil, err
	}
	cert, err := r.certified(h)
	if err != nil {
		return nil, err
	}
	b := &proof.Bundle{Kind: proof.KindState, Certified: cert, Key: key, ValueHash: sp.ValueHash, StatePath: sp.Proof}
	if sp.ValueHash != nil && h == r.led.Height() {
		v, err := r.led.Get(key)
		if err != nil {
			return nil, err
		}
		// The head may have moved since the proof was taken; include the
		// value only if it is the one proven.
		if v != nil && r.suite.Hash(v) == *sp.ValueHash {
			b.Value = v
		}
	}
	return b, nil
}

// NextNonce returns the next nonce for a sender counting pending transactions.
func (r *Replica) NextNonce(a chain.Address) (committed, next uint64, err error) {
	committed, err = r.nonce(a)
	if err != nil {
		return 0, 0, err
	}
	return committed, r.pool.NextNonce(a, committed), nil
}
