package ledger

import (
	"bytes"
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// StoredNodes counts the state-tree nodes in l's store.
func StoredNodes(tb testing.TB, l *Ledger) int {
	tb.Helper()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pNode, '/'}, UpperBound: []byte{pNode, '/' + 1}})
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// CompactAll compacts l's whole store, so deleted data leaves the disk.
func CompactAll(tb testing.TB, l *Ledger) {
	tb.Helper()
	if err := l.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		tb.Fatal(err)
	}
}

// SplitStaleIndex rewrites l's stale-node index into the format of ledgers
// written before it was one entry per height: one entry per node.
func SplitStaleIndex(tb testing.TB, l *Ledger) {
	tb.Helper()
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pStale, '/'}, UpperBound: []byte{pStale, '/' + 1}})
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Close()
	b := l.db.NewBatch()
	defer b.Close()
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 10 {
			continue
		}
		for v := it.Value(); len(v) > 0; v = v[32:] {
			_ = b.Set(append(bytes.Clone(it.Key()), v[:32]...), nil, nil)
		}
		_ = b.Delete(bytes.Clone(it.Key()), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		tb.Fatal(err)
	}
}
