package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/smt"
)

// NextValidators is a validator set change a block decides.
type NextValidators struct {
	Set *chain.ValidatorSet
	Key []byte // the full state key whose value is Set's encoding
}

// Change is a validator set change decided at Height: the set certifying
// Height+1 on, and the proof of Key (holding the set's encoding) under the
// state root of the header at Height, which the previous set certified. A
// light client follows the chain of changes from a set it trusts.
type Change struct {
	Height uint64
	Set    *chain.ValidatorSet
	Key    []byte
	Proof  *smt.Proof
}

// maxChangeEncoded bounds a stored change record.
const maxChangeEncoded = 64<<10 + 16<<10 + 1024

// overlay reads tree nodes a block creates before they are stored.
type overlay struct {
	created map[crypto.Hash][]byte
	base    smt.NodeReader
}

func (o overlay) Node(h crypto.Hash) ([]byte, error) {
	if v, ok := o.created[h]; ok {
		return v, nil
	}
	return o.base.Node(h)
}

// recordChange stores, in the batch committing height, the new set and the
// proof of its state key under su.Root.
func (l *Ledger) recordChange(batch *pebble.Batch, height uint64, su *StateUpdate, nv *NextValidators) error {
	enc := nv.Set.Encode()
	created := make(map[crypto.Hash][]byte, len(su.nodes))
	for _, n := range su.nodes {
		created[n.Hash] = n.Data
	}
	p, vh, err := smt.New(l.suite, overlay{created, nodeReader{l}}).ProveValue(su.Root, chain.StateKeyHash(l.suite, nv.Key))
	if err != nil {
		return fmt.Errorf("validator set proof at %d: %w", height, err)
	}
	if vh == nil || *vh != l.suite.Hash(enc) {
		return fmt.Errorf("validator set change at %d: state does not hold the new set", height)
	}
	return l.putChange(batch, &Change{Height: height, Set: nv.Set, Key: nv.Key, Proof: p})
}

// putChange writes a change record and its set into batch.
func (l *Ledger) putChange(batch *pebble.Batch, c *Change) error {
	pb, err := c.Proof.MarshalBinary()
	if err != nil {
		return err
	}
	hash := c.Set.Hash(l.suite)
	w := codec.NewWriter(len(pb) + len(c.Key) + 64)
	w.Fixed(hash[:])
	w.VarBytes(c.Key)
	w.VarBytes(pb)
	_ = batch.Set(prefixed(pValset, hash[:]), c.Set.Encode(), nil)
	_ = batch.Set(heightKey(pChange, c.Height), w.Bytes(), nil)
	return nil
}

// ValidatorSet returns a set the chain has had, by hash.
func (l *Ledger) ValidatorSet(hash crypto.Hash) (*chain.ValidatorSet, error) {
	v, err := l.get(prefixed(pValset, hash[:]))
	if err != nil {
		return nil, fmt.Errorf("validator set %s: %w", hash, err)
	}
	vs, err := chain.DecodeValidatorSet(v)
	if err != nil {
		return nil, fmt.Errorf("%w: validator set %s: %w", ErrCorrupt, hash, err)
	}
	if vs.Hash(l.suite) != hash {
		return nil, fmt.Errorf("%w: validator set %s stored under another hash", ErrCorrupt, hash)
	}
	return vs, nil
}

// Changes returns the validator set changes decided at heights below
// before, in height order.
func (l *Ledger) Changes(before uint64) ([]Change, error) {
	keys, vals, err := l.changeRecords(0, before)
	if err != nil {
		return nil, err
	}
	out := make([]Change, 0, len(keys))
	for i, k := range keys {
		c, err := l.decodeChange(k, vals[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// changeRecords returns the raw change records at heights [from, before).
func (l *Ledger) changeRecords(from, before uint64) (keys, vals [][]byte, err error) {
	l.swap.RLock()
	defer l.swap.RUnlock()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: heightKey(pChange, from), UpperBound: heightKey(pChange, before)})
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != len(heightKey(pChange, 0)) || len(it.Value()) > maxChangeEncoded {
			return nil, nil, fmt.Errorf("%w: change record %x", ErrCorrupt, k)
		}
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(it.Value()))
	}
	return keys, vals, it.Error()
}

func (l *Ledger) decodeChange(k, v []byte) (*Change, error) {
	r := codec.NewReader(v)
	var hash crypto.Hash
	r.Hash32("change.set", (*[32]byte)(&hash))
	c := &Change{Height: heightOf(k), Key: r.VarBytes("change.key", 1024)}
	pb := r.VarBytes("change.proof", 16<<10)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: change at %d: %w", ErrCorrupt, c.Height, err)
	}
	c.Proof = new(smt.Proof)
	if err := c.Proof.UnmarshalBinary(pb); err != nil {
		return nil, fmt.Errorf("%w: change at %d: %w", ErrCorrupt, c.Height, err)
	}
	var err error
	if c.Set, err = l.ValidatorSet(hash); errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: change at %d names a set not stored", ErrCorrupt, c.Height)
	}
	return c, err
}

// heightOf reads the height of a heightKey.
func heightOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[2:]) }
