package replica

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/merkle"
	"github.com/polityledger/polity/chain/proof"
)

// Validators returns the validator set certifying headers at height h.
// Sets change only through governance, which comes with the BFT engine;
// until then every height has the genesis set.
func (r *Replica) Validators(h uint64) chain.ValidatorSet { return r.g.Validators }

func (r *Replica) certified(h uint64) (proof.Certified, error) {
	hdr, c, err := r.led.Header(h)
	if err != nil {
		return proof.Certified{}, err
	}
	// Engine metadata is signed by no one: bundles leave it out.
	c.Meta = nil
	return proof.Certified{Suite: r.suite.Name(), Header: *hdr, Commit: *c, Validators: r.Validators(h)}, nil
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
	b, err := r.led.Block(h)
	if err != nil {
		return nil, err
	}
	rcs, err := r.led.Receipts(h)
	if err != nil {
		return nil, err
	}
	if i >= len(b.Txs) || i >= len(rcs) {
		return nil, fmt.Errorf("tx index %d out of block %d", i, h)
	}
	cert, err := r.certified(h)
	if err != nil {
		return nil, err
	}
	ids := b.TxIDs(r.suite)
	leaves := make([]crypto.Hash, len(ids))
	for j, id := range ids {
		leaves[j] = merkle.LeafHash(r.suite, id[:])
	}
	return &CommittedTx{Height: h, Index: i, Bundle: &proof.Bundle{
		Kind: proof.KindTx, Certified: cert,
		Tx: b.Txs[i], Receipt: rcs[i], Index: uint64(i),
		TxPath:      merkle.Path(r.suite, leaves, i),
		ReceiptPath: merkle.Path(r.suite, chain.ReceiptLeaves(r.suite, rcs), i),
	}}, nil
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
