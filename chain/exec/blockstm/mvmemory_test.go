package blockstm

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestLocationConcurrent has workers create the same locations at once in
// a small table, where they often race for a bucket: each key must end up
// as one location, the one every worker got, found by lookups and listed
// once by the snapshot.
func TestLocationConcurrent(t *testing.T) {
	const workers, keys = 4, 3000
	mv := newMVMemory()
	mv.init(0) // the smallest table: long chains, frequent races
	mems := make([]workerMem, workers)
	got := make([][]*mvKey, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			got[g] = make([]*mvKey, keys)
			for _, i := range rng.Perm(keys) {
				k := mv.location(&mems[g], fmt.Sprint("key-", i))
				k.write(int32(g), 0, []byte{byte(g)}, false)
				got[g][i] = k
			}
		})
	}
	wg.Wait()
	for i := range keys {
		key := fmt.Sprint("key-", i)
		k := mv.lookupString(key)
		if k == nil || k.key != key || len(k.es) != workers {
			t.Fatalf("%s: lookup gives %+v", key, k)
		}
		for g := range workers {
			if got[g][i] != k {
				t.Fatalf("%s: worker %d holds another location", key, g)
			}
		}
	}
	if ws := mv.snapshot(workers, 2); len(ws) != keys {
		t.Fatalf("snapshot lists %d locations, want %d", len(ws), keys)
	}
	mv.reset()
	if k := mv.lookupString("key-0"); k != nil {
		t.Fatal("a reset memory still finds a location")
	}
}
