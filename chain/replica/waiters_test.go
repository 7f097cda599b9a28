package replica_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/replica"
)

// TestWaitTx: waiters on a transaction (two on one) return with its height
// when its block commits; a waiter on a transaction of no block runs out
// at its deadline, untouched by the commits; waiting on a committed
// transaction returns at once.
func TestWaitTx(t *testing.T) {
	c := newCluster(t, 4)
	in := c.tx("v1", "propose", map[string]any{"op": "remove", "id": "v4"})
	out := c.tx("v2", "propose", map[string]any{"op": "remove", "id": "v3"})
	type result struct {
		h   uint64
		err error
	}
	wait := func(ctx context.Context, id [32]byte) <-chan result {
		ch := make(chan result, 1)
		go func() {
			h, _, err := c.r.WaitTx(ctx, id)
			ch <- result{h, err}
		}()
		return ch
	}
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a1, a2 := wait(context.Background(), in.ID(suite)), wait(context.Background(), in.ID(suite))
	b := wait(short, out.ID(suite))
	time.Sleep(50 * time.Millisecond) // let them register
	blk := c.step(in)
	c.step() // a later block without either
	for i, ch := range []<-chan result{a1, a2} {
		select {
		case r := <-ch:
			if r.err != nil || r.h != blk.Header.Height {
				t.Fatalf("waiter %d: height %d, %v; want %d", i, r.h, r.err, blk.Header.Height)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("waiter %d not woken by its commit", i)
		}
	}
	if r := <-b; !errors.Is(r.err, replica.ErrNotCommitted) {
		t.Fatalf("waiter on an uncommitted tx: %d, %v", r.h, r.err)
	}
	if h, _, err := c.r.WaitTx(context.Background(), in.ID(suite)); err != nil || h != blk.Header.Height {
		t.Fatalf("waiting on a committed tx: %d, %v", h, err)
	}
}

// TestTxWatch: watches taken before their transactions commit return the
// height and index the ledger records for each; a cancelled watch and a
// watch on a transaction of no block do not disturb them, and the latter
// runs out at its deadline.
func TestTxWatch(t *testing.T) {
	c := newCluster(t, 4)
	first := c.tx("v1", "propose", map[string]any{"op": "remove", "id": "v4"})
	second := c.tx("v2", "propose", map[string]any{"op": "remove", "id": "v3"})
	never := c.tx("v3", "propose", map[string]any{"op": "remove", "id": "v2"})
	w1, w2 := c.r.Watch(first.ID(suite)), c.r.Watch(second.ID(suite))
	c.r.Watch(second.ID(suite)).Cancel()
	wn := c.r.Watch(never.ID(suite))
	blk := c.step(first, second)
	for i, w := range []*replica.TxWatch{w1, w2} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h, idx, err := w.Wait(ctx)
		cancel()
		id := []*chain.Tx{first, second}[i].ID(suite)
		st, wantH, wantIdx, serr := c.r.TxState(id)
		if err != nil || serr != nil || st != replica.TxCommitted || h != blk.Header.Height || h != wantH || idx != wantIdx || idx != i {
			t.Fatalf("watch %d: height %d index %d, %v; ledger: %v %d %d, %v", i, h, idx, err, st, wantH, wantIdx, serr)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if h, _, err := wn.Wait(short); !errors.Is(err, replica.ErrNotCommitted) {
		t.Fatalf("watch on an uncommitted tx: %d, %v", h, err)
	}
}
