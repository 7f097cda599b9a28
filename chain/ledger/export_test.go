package ledger

import (
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
