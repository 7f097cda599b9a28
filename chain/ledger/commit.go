package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/smt"
)

// StateUpdate is a block's write set with the sparse Merkle root it yields
// and the tree nodes to persist. It is computed without writing anything.
type StateUpdate struct {
	Root     crypto.Hash
	Receipts []*chain.Receipt // carried for the caller between execution and commit
	// NextValidators, when the block changes the validator set, is the set
	// certifying the following heights and the state key holding it: the
	// commit stores the set and the key's proof under this block's root.
	NextValidators *NextValidators
	writes         []exec.Write
	nodes          []smt.Node
	stale          []smt.Node
}

// Prepare computes the state root after applying writes (sorted by key, as
// executors return them) on top of the state with root parent.
func (l *Ledger) Prepare(parent crypto.Hash, writes []exec.Write) (*StateUpdate, error) {
	ops := make([]smt.Op, len(writes))
	for i, w := range writes {
		ops[i] = smt.Op{Key: chain.StateKeyHash(l.suite, w.Key), Delete: w.Value == nil}
		if w.Value != nil {
			ops[i].ValueHash = l.suite.Hash(w.Value)
		}
	}
	sortOps(ops)
	c, err := l.tree.Apply(parent, ops)
	if err != nil {
		return nil, fmt.Errorf("state tree update: %w", err)
	}
	return &StateUpdate{Root: c.Root, writes: writes, nodes: c.Created, stale: c.Stale}, nil
}

// Commit appends block b (certified) with the receipts and state update of
// its execution in one synced batch. b must extend the head and carry su.Root.
func (l *Ledger) Commit(b *chain.Block, su *StateUpdate) error {
	rcs := su.Receipts
	head, headHash := l.Head()
	h := &b.Header
	switch {
	case h.Height != head.Height+1 || h.Parent != headHash:
		return fmt.Errorf("%w: block %d parent %s, head %d %s", ErrNotNext, h.Height, h.Parent, head.Height, headHash)
	case h.StateRoot != su.Root:
		return fmt.Errorf("%w: header state root differs from executed state", ErrNotNext)
	case int(h.TxCount) != len(b.Txs) || len(rcs) != len(b.Txs):
		return fmt.Errorf("%w: %d txs, %d receipts, header says %d", ErrNotNext, len(b.Txs), len(rcs), h.TxCount)
	}
	db := l.store()
	batch := db.NewBatch()
	defer batch.Close()
	set := func(k, v []byte) {
		_ = batch.Set(k, v, nil) // in-memory batch: Set fails only on closed batches
	}
	l.putBlock(batch, b, rcs)
	for _, w := range su.writes {
		if w.Value == nil {
			_ = batch.Delete(prefixed(pState, w.Key), nil)
		} else {
			set(prefixed(pState, w.Key), w.Value)
		}
	}
	for _, n := range su.nodes {
		set(prefixed(pNode, n.Hash[:]), binary.BigEndian.AppendUint64(append(make([]byte, 0, storedNodeSize), n.Data...), h.Height))
	}
	if err := l.pruneState(db, batch, h.Height, su); err != nil {
		return err
	}
	base, err := l.pruneBlocks(batch, h.Height)
	if err != nil {
		return err
	}
	if nv := su.NextValidators; nv != nil {
		if err := l.recordChange(batch, h.Height, su, nv); err != nil {
			return err
		}
	}
	set(keyHead, heightKey(pHeader, h.Height)[2:])
	// Readers see the new base before the blocks under it go, so a block
	// read never finds a block missing above the base.
	oldBase := l.setBase(base)
	// The batch becomes readable and the head moves under l.pub.
	hash := h.Hash(l.suite)
	l.pub.Lock()
	err = batch.Commit(pebble.Sync)
	if err == nil {
		l.hot.commit(su.writes)
		l.mu.Lock()
		l.mu.head, l.mu.hash = *h, hash
		l.mu.Unlock()
	}
	l.pub.Unlock()
	if err != nil {
		l.setBase(oldBase)
		return fmt.Errorf("commit block %d: %w", h.Height, err)
	}
	for _, n := range su.nodes {
		l.nodes.put(n.Hash, n.Data)
	}
	return nil
}

// putBlock writes a block's header, certificate, body, receipts and
// transaction index into batch.
func (l *Ledger) putBlock(batch *pebble.Batch, b *chain.Block, rcs []*chain.Receipt) {
	h := &b.Header
	set := func(k, v []byte) { _ = batch.Set(k, v, nil) }
	set(heightKey(pHeader, h.Height), h.Encode())
	set(heightKey(pCommit, h.Height), b.Commit.Encode())
	if len(b.Txs) == 0 {
		return
	}
	txs := make([][]byte, len(b.Txs))
	for i, tx := range b.Txs {
		txs[i] = tx.Encode()
		id := rcs[i].TxID // the executor's ID for tx; no second hash
		loc := binary.BigEndian.AppendUint64(nil, h.Height)
		set(prefixed(pTx, id[:]), binary.AppendUvarint(loc, uint64(i)))
	}
	set(heightKey(pBody, h.Height), l.zenc.EncodeAll(joinList(txs), nil))
	encs := make([][]byte, len(rcs))
	for i, rc := range rcs {
		encs[i] = rc.Encode()
	}
	set(heightKey(pReceipt, h.Height), l.zenc.EncodeAll(joinList(encs), nil))
}

// sortOps puts tree operations in key-hash order, as the tree takes them.
func sortOps(ops []smt.Op) {
	sort.Slice(ops, func(i, j int) bool { return bytes.Compare(ops[i].Key[:], ops[j].Key[:]) < 0 })
}

// storedNodeSize is a stored tree node: its encoding, then the height of
// the block that (last) created it.
const storedNodeSize = smt.NodeSize + 8

// createdAt is the creation height of a stored node (0 for nodes stored
// without one).
func createdAt(v []byte) uint64 {
	if len(v) != storedNodeSize {
		return 0
	}
	return binary.BigEndian.Uint64(v[smt.NodeSize:])
}

// pruneState, in the batch committing height, records the nodes this block
// makes stale and deletes the nodes that went stale StateHistory heights
// ago. A node is content-addressed, so one that goes stale may be created
// again later (a key returning to an earlier value); it then carries a
// creation height above the one it went stale at, and is kept.
//
// A block's stale nodes are one entry, x/height → their hashes. Ledgers
// written before kept one entry per node, x/height/hash → nothing, which
// this still reads and deletes. One entry per node was a few hundred store
// writes per block on a loaded chain whatever its size, most of the
// commit's memtable inserts.
func (l *Ledger) pruneState(db *pebble.DB, batch *pebble.Batch, height uint64, su *StateUpdate) error {
	if len(su.stale) > 0 {
		list := make([]byte, 0, len(su.stale)*crypto.HashSize)
		for _, n := range su.stale {
			list = append(list, n.Hash[:]...)
		}
		_ = batch.Set(heightKey(pStale, height), list, nil)
	}
	if height <= l.keep {
		return nil
	}
	horizon := height - l.keep
	created := make(map[crypto.Hash]bool, len(su.nodes))
	for _, n := range su.nodes {
		created[n.Hash] = true
	}
	// Everything that went stale at or below the horizon: normally one
	// height's worth, more if StateHistory was lowered since the last run.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: heightKey(pStale, 0), UpperBound: heightKey(pStale, horizon+1)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		var hashes []byte
		switch {
		case len(k) == 10:
			hashes = it.Value()
		case len(k) == 10+crypto.HashSize: // one node, the older format
			hashes = k[10:]
		default:
			return fmt.Errorf("%w: stale index key of %d bytes", ErrCorrupt, len(k))
		}
		if len(hashes)%crypto.HashSize != 0 {
			return fmt.Errorf("%w: stale index entry of %d bytes", ErrCorrupt, len(hashes))
		}
		at := binary.BigEndian.Uint64(k[2:10])
		for len(hashes) > 0 {
			var h crypto.Hash
			copy(h[:], hashes)
			hashes = hashes[crypto.HashSize:]
			nk := prefixed(pNode, h[:])
			v, err := getFrom(db, nk)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case !created[h] && createdAt(v) <= at:
				_ = batch.Delete(nk, nil)
			}
		}
		_ = batch.Delete(bytes.Clone(k), nil)
	}
	return it.Error()
}
