package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/smt"
)

// keyRestoring marks a ledger whose snapshot restore has not finished;
// keyBase holds the lowest height whose block the ledger holds in full
// when it began from a snapshot.
var (
	keyRestoring = []byte("m/restoring")
	keyBase      = []byte("m/base")
)

// ErrRestoring is returned by Open for a ledger whose restore was cut off.
var ErrRestoring = errors.New("ledger holds an unfinished snapshot restore: delete its directory and restore again")

// StateSnapshot is a consistent view of the latest state and the height it
// belongs to, for export while the chain goes on committing.
type StateSnapshot struct {
	snap   *pebble.Snapshot
	l      *Ledger
	Height uint64
}

// SnapshotState pins the current head's state. Close it when done: it
// holds back compaction of what it sees.
func (l *Ledger) SnapshotState() (*StateSnapshot, error) {
	l.swap.RLock()
	snap := l.db.NewSnapshot()
	l.snaps.Add(1)
	l.swap.RUnlock()
	s := &StateSnapshot{snap: snap, l: l}
	v, closer, err := snap.Get(keyHead)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot head: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		s.Close()
		return nil, fmt.Errorf("%w: head pointer of %d bytes", ErrCorrupt, len(v))
	}
	s.Height = binary.BigEndian.Uint64(v)
	return s, nil
}

// Each calls fn for every state key and value in key order; fn must not
// keep the slices.
func (s *StateSnapshot) Each(fn func(key, value []byte) error) error {
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pState, '/'}, UpperBound: []byte{pState, '/' + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[2:], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// Close releases the snapshot.
func (s *StateSnapshot) Close() error {
	defer s.l.snaps.Add(-1)
	return s.snap.Close()
}

// CertifiedChange is a validator set change with the header (and its
// certificate) of the block that decided it.
type CertifiedChange struct {
	Change
	Header chain.Header
	Commit chain.Commit
}

// Restore is a verified snapshot's certified part: the head block in full
// with its receipts, and every validator set change before it.
type Restore struct {
	Genesis  *chain.Genesis
	Head     *chain.Block
	Receipts []*chain.Receipt
	Changes  []CertifiedChange
}

// Limits on restored state entries. The tree update keeps 64 bytes per
// entry in memory (key and value hashes) until the end: MaxRestoreEntries
// bounds that to 2 GiB.
const (
	MaxRestoreKey     = 1024
	MaxRestoreVal     = 1 << 20
	MaxRestoreEntries = 32 << 20
)

// restoreChunk bounds the state values buffered before a write.
const restoreChunk = 4 << 20

// Restore fills an empty ledger from a snapshot: r, then next yields the
// state entries in strictly increasing key order until it returns a nil
// key. The caller has verified r's certificates against the chain's
// genesis; Restore checks that the entries' sparse Merkle root is the
// head's state root, and that the receipts match the head. The ledger is
// then at r.Head.Header.Height with no earlier blocks (blocks from peers
// continue it). On any error the ledger is left marked unfinished and
// will not open: delete its directory.
func (l *Ledger) Restore(r *Restore, next func() (key, value []byte, err error)) error {
	if _, err := l.get(keyGenesis); !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("restore needs an empty ledger (%v)", err)
	}
	head := &r.Head.Header
	if head.ChainID != r.Genesis.ChainID || len(r.Receipts) != len(r.Head.Txs) || uint64(len(r.Head.Txs)) != head.TxCount {
		return fmt.Errorf("%w: snapshot head does not match its chain or receipts", ErrCorrupt)
	}
	if chain.ReceiptsRoot(l.suite, r.Receipts) != head.ReceiptsRoot {
		return fmt.Errorf("%w: snapshot receipts do not match the head's root", ErrCorrupt)
	}
	if err := l.store().Set(keyRestoring, nil, pebble.Sync); err != nil {
		return err
	}
	ops, err := l.restoreState(next)
	if err != nil {
		return err
	}
	c, err := l.tree.Apply(crypto.Hash{}, ops)
	if err != nil {
		return fmt.Errorf("snapshot state tree: %w", err)
	}
	if c.Root != head.StateRoot {
		return fmt.Errorf("%w: snapshot state root %s, the certified head's is %s", ErrCorrupt, c.Root, head.StateRoot)
	}
	batch := l.store().NewBatch()
	defer batch.Close()
	set := func(k, v []byte) { _ = batch.Set(k, v, nil) }
	for _, n := range c.Created {
		set(prefixed(pNode, n.Hash[:]), binary.BigEndian.AppendUint64(append(make([]byte, 0, storedNodeSize), n.Data...), head.Height))
	}
	l.putGenesis(batch, r.Genesis)
	for _, ch := range r.Changes {
		set(heightKey(pHeader, ch.Header.Height), ch.Header.Encode())
		set(heightKey(pCommit, ch.Header.Height), ch.Commit.Encode())
		if err := l.putChange(batch, &ch.Change); err != nil {
			return err
		}
	}
	l.putBlock(batch, r.Head, r.Receipts)
	set(keyBase, heightKey(pHeader, head.Height)[2:])
	set(keyHead, heightKey(pHeader, head.Height)[2:])
	_ = batch.Delete(keyRestoring, nil)
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("restore commit: %w", err)
	}
	l.hot.reset()
	l.setHead(head)
	l.setBase(head.Height)
	return nil
}

// restoreState writes the entries next yields (synced only by the final
// commit) and returns the tree operations they make.
func (l *Ledger) restoreState(next func() (key, value []byte, err error)) ([]smt.Op, error) {
	var ops []smt.Op
	var prev []byte
	db := l.store()
	batch := db.NewBatch()
	defer func() { batch.Close() }()
	for {
		k, v, err := next()
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		if len(ops) >= MaxRestoreEntries {
			return nil, fmt.Errorf("%w: snapshot holds more than %d state entries", ErrCorrupt, MaxRestoreEntries)
		}
		if len(k) == 0 || len(k) > MaxRestoreKey || len(v) == 0 || len(v) > MaxRestoreVal || prev != nil && bytes.Compare(k, prev) <= 0 {
			return nil, fmt.Errorf("%w: snapshot entry %d: key of %d bytes, value of %d, or out of order", ErrCorrupt, len(ops), len(k), len(v))
		}
		prev = append(prev[:0], k...)
		_ = batch.Set(prefixed(pState, k), v, nil)
		ops = append(ops, smt.Op{Key: chain.StateKeyHash(l.suite, k), ValueHash: l.suite.Hash(v)})
		if batch.Len() >= restoreChunk {
			if err := batch.Commit(pebble.NoSync); err != nil {
				return nil, err
			}
			batch.Close()
			batch = db.NewBatch()
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return nil, err
	}
	// The tree takes its operations in key-hash order.
	sortOps(ops)
	return ops, nil
}
