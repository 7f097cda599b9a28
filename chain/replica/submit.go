package replica

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
)

// SubmitBatch admits transactions as Submit does, one by one, except that
// their signatures are verified together, in batches on all cores. errs[i]
// is nil when txs[i] was admitted, else Submit's error for it. Signatures
// are checked only for transactions that pass the cheap checks (module,
// chain, expiry), as Submit does.
func (r *Replica) SubmitBatch(txs []*chain.Tx) (errs []error) {
	errs = make([]error, len(txs))
	height := r.led.Height()
	var todo []*chain.Tx
	var at []int
	for i, tx := range txs {
		if _, err := r.reg.Lookup(tx.Module, tx.Method); err != nil {
			errs[i] = err
			continue
		}
		if err := r.pool.Precheck(tx, height); err != nil {
			errs[i] = err
			continue
		}
		todo = append(todo, tx)
		at = append(at, i)
	}
	admitted := false
	for j, err := range r.verifyAll(todo) {
		if err == nil {
			var id crypto.Hash
			if id, err = r.pool.AddVerified(todo[j], height); err == nil {
				err = r.order(todo[j], id)
			}
		}
		errs[at[j]] = err
		admitted = admitted || err == nil
	}
	if admitted {
		r.notifyAdmitted()
	}
	return errs
}

// order hands an admitted transaction to the engine's request pool, if the
// engine has one, dropping it from the mempool when the engine refuses.
func (r *Replica) order(tx *chain.Tx, id crypto.Hash) error {
	if r.sink == nil {
		return nil
	}
	if err := r.sink.SubmitTx(tx.Encode()); err != nil {
		r.pool.Remove(id)
		return fmt.Errorf("%w: %w", ErrNotOrdering, err)
	}
	return nil
}

// notifyAdmitted tells a waiting proposer that transactions arrived.
func (r *Replica) notifyAdmitted() {
	r.mu.Lock()
	close(r.mu.wake)
	r.mu.wake = make(chan struct{})
	r.mu.Unlock()
}

// verifyAll checks every transaction's signature and sender binding
// (chain.VerifyTxs) on all cores, in chunks big enough for batch
// verification to pay. errs[i] is txs[i]'s error.
func (r *Replica) verifyAll(txs []*chain.Tx) []error {
	workers := runtime.GOMAXPROCS(0)
	chunk := max(verifyChunkMin, (len(txs)+workers-1)/workers)
	errs := make([]error, len(txs))
	var wg sync.WaitGroup
	for lo := 0; lo < len(txs); lo += chunk {
		hi := min(lo+chunk, len(txs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(errs[lo:hi], chain.VerifyTxs(r.suite, txs[lo:hi]))
		}()
	}
	wg.Wait()
	return errs
}

// verifyChunkMin is the smallest batch worth a goroutine of its own.
const verifyChunkMin = 64
