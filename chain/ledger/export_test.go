package ledger

import (
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
