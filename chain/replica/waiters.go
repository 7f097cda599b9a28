package replica

import (
	"context"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// txWaiters wakes the callers of WaitTx when their own transaction commits,
// telling them where it landed. A commit used to wake every waiter to look
// its transaction up again: with thousands of clients waiting that was one
// store read per waiter per block (about 2 % of a loaded devnet's CPU), and
// then a second read of where it landed.
type txWaiters struct {
	mu sync.Mutex
	m  map[crypto.Hash][]*txWait
}

// txWait is one waiter. When a commit wakes it, height and index are set
// (and at is true) before done closes; wakeAll closes done with at false.
type txWait struct {
	done   chan struct{}
	at     bool
	height uint64
	index  int
}

// add registers a waiter for id.
func (w *txWaiters) add(id crypto.Hash) *txWait {
	t := &txWait{done: make(chan struct{})}
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[crypto.Hash][]*txWait)
	}
	w.m[id] = append(w.m[id], t)
	w.mu.Unlock()
	return t
}

// remove unregisters a waiter that stops waiting; it is a no-op for one
// already woken.
func (w *txWaiters) remove(id crypto.Hash, t *txWait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[id]
	for i, c := range list {
		if c == t {
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

// wake wakes the waiters of the transactions of the block committed at
// height (rcs are its receipts, in block order).
func (w *txWaiters) wake(height uint64, rcs []*chain.Receipt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m) == 0 {
		return
	}
	for i, rc := range rcs {
		for _, t := range w.m[rc.TxID] {
			t.at, t.height, t.index = true, height, i
			close(t.done)
		}
		delete(w.m, rc.TxID)
	}
}

// wakeAll wakes every waiter to look again: the ledger was replaced.
func (w *txWaiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, list := range w.m {
		for _, t := range list {
			close(t.done)
		}
		delete(w.m, id)
	}
}

// WaitTx blocks until the transaction commits or ctx ends, and returns its
// height and index.
func (r *Replica) WaitTx(ctx context.Context, id crypto.Hash) (uint64, int, error) {
	for {
		// Registered before the lookup, so a commit in between wakes it.
		t := r.waiters.add(id)
		st, h, i, err := r.TxState(id)
		if err != nil || st == TxCommitted {
			r.waiters.remove(id, t)
			return h, i, err
		}
		if h, i, ok, err := r.wait(ctx, id, t); ok || err != nil {
			return h, i, err
		}
	}
}

// wait waits for t, a waiter for id: ok when a commit woke it, false after
// wakeAll (look again); ErrNotCommitted when ctx ends first.
func (r *Replica) wait(ctx context.Context, id crypto.Hash, t *txWait) (h uint64, i int, ok bool, err error) {
	select {
	case <-ctx.Done():
		r.waiters.remove(id, t)
		return 0, 0, false, ErrNotCommitted
	case <-t.done:
		return t.height, t.index, t.at, nil
	}
}

// TxWatch waits for the commit of a transaction about to be submitted.
type TxWatch struct {
	r  *Replica
	id crypto.Hash
	t  *txWait
}

// Watch starts watching for id's commit. Take it before submitting the
// transaction: once admission accepts it (the transaction was not
// committed then), a commit can no longer slip by unseen, so Wait needs no
// lookup. Call Wait or Cancel.
func (r *Replica) Watch(id crypto.Hash) *TxWatch {
	return &TxWatch{r: r, id: id, t: r.waiters.add(id)}
}

// Wait blocks until the watched transaction commits or ctx ends
// (ErrNotCommitted), and returns its height and index.
func (w *TxWatch) Wait(ctx context.Context) (uint64, int, error) {
	h, i, ok, err := w.r.wait(ctx, w.id, w.t)
	if ok || err != nil {
		return h, i, err
	}
	return w.r.WaitTx(ctx, w.id) // the ledger was replaced: look it up
}

// Cancel stops watching (the transaction was refused).
func (w *TxWatch) Cancel() { w.r.waiters.remove(w.id, w.t) }
