package replica

import (
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// txWaiters wakes the callers of WaitTx when their own transaction commits.
// A commit used to wake every waiter to look its transaction up again: with
// thousands of clients waiting that was one store read per waiter per block
// (about 2 % of a loaded devnet's CPU).
type txWaiters struct {
	mu sync.Mutex
	m  map[crypto.Hash][]chan struct{}
}

// add registers a waiter for id; its channel closes when a block holding
// id commits, or when wakeAll runs.
func (w *txWaiters) add(id crypto.Hash) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[crypto.Hash][]chan struct{})
	}
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch
}

// remove unregisters a waiter that stops waiting; it is a no-op for one
// already woken.
func (w *txWaiters) remove(id crypto.Hash, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, id)
	} else {
		w.m[id] = list
	}
}

// wake wakes the waiters of a committed block's transactions.
func (w *txWaiters) wake(rcs []*chain.Receipt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m) == 0 {
		return
	}
	for _, rc := range rcs {
		for _, c := range w.m[rc.TxID] {
			close(c)
		}
		delete(w.m, rc.TxID)
	}
}

// wakeAll wakes every waiter to look again: the ledger was replaced.
func (w *txWaiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, list := range w.m {
		for _, c := range list {
			close(c)
		}
		delete(w.m, id)
	}
}
