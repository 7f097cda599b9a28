package smt

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

const benchKeys = 100_000

// benchBase is a shared tree of benchKeys random keys. Its store only grows,
// so the base root stays valid whatever the benchmarks add.
var benchBase struct {
	once  sync.Once
	store memStore
	root  crypto.Hash
	keys  []crypto.Hash
}

func base(b *testing.B) (*Tree, memStore, crypto.Hash, []crypto.Hash) {
	benchBase.once.Do(func() {
		rng := rand.New(rand.NewPCG(1, 1))
		ops := make([]Op, benchKeys)
		for i := range ops {
			ops[i] = Op{Key: randHash(rng), ValueHash: randHash(rng)}
		}
		sortOps(ops)
		store := memStore{}
		root, nodes, err := New(suite, store).Update(crypto.Hash{}, ops)
		if err != nil {
			b.Fatal(err)
		}
		store.put(b, nodes)
		benchBase.store, benchBase.root = store, root
		for _, op := range ops {
			benchBase.keys = append(benchBase.keys, op.Key)
		}
	})
	return New(suite, benchBase.store), benchBase.store, benchBase.root, benchBase.keys
}

// BenchmarkUpdate applies batches of 1000 keys to a tree of 100k keys:
// fresh inserts, overwrites of present keys, or 500 overwrites, 250 inserts
// and 250 deletes. Building the batch and storing the nodes are not timed.
func BenchmarkUpdate(b *testing.B) {
	const batch = 1000
	for _, mode := range []string{"insert", "overwrite", "mixed"} {
		b.Run(mode, func(b *testing.B) {
			tree, store, root, baseKeys := base(b)
			keys := append([]crypto.Hash(nil), baseKeys...)
			rng := rand.New(rand.NewPCG(2, 2))
			ops := make([]Op, batch)
			nodes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for i := range ops {
					r := i
					switch mode {
					case "insert":
						r = 0
					case "overwrite":
						r = batch
					}
					switch {
					case r < batch/4:
						ops[i] = Op{Key: randHash(rng), ValueHash: randHash(rng)}
						keys = append(keys, ops[i].Key)
					case r < batch/2:
						// Delete a present key, at most once per batch.
						j := rng.IntN(len(keys) - batch)
						ops[i] = Op{Key: keys[j], Delete: true}
						keys[j] = keys[len(keys)-1]
						keys = keys[:len(keys)-1]
					default:
						ops[i] = Op{Key: keys[rng.IntN(len(keys))], ValueHash: randHash(rng)}
					}
				}
				sortOps(ops)
				dedupe(&ops)
				b.StartTimer()
				r, created, err := tree.Update(root, ops)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, n := range created {
					store[n.Hash] = n.Data
				}
				nodes += len(created)
				root = r
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "keys/s")
			b.ReportMetric(float64(nodes)/float64(b.N), "nodes/batch")
		})
	}
}

// dedupe drops all but the first op for each key from sorted ops.
func dedupe(ops *[]Op) {
	out := (*ops)[:0]
	for i, op := range *ops {
		if i == 0 || op.Key != out[len(out)-1].Key {
			out = append(out, op)
		}
	}
	*ops = out
}

func BenchmarkProve(b *testing.B) {
	tree, _, root, keys := base(b)
	rng := rand.New(rand.NewPCG(3, 3))
	size := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p, err := tree.Prove(root, keys[rng.IntN(len(keys))])
		if err != nil {
			b.Fatal(err)
		}
		size += len(p.Siblings)
	}
	b.ReportMetric(float64(size)/float64(b.N), "depth")
}

func BenchmarkVerify(b *testing.B) {
	tree, _, root, keys := base(b)
	rng := rand.New(rand.NewPCG(4, 4))
	type item struct {
		key, value crypto.Hash
		proof      *Proof
	}
	items := make([]item, 1024)
	bytes := 0
	for i := range items {
		k := keys[rng.IntN(len(keys))]
		v, _, _ := tree.Get(root, k)
		p, err := tree.Prove(root, k)
		if err != nil {
			b.Fatal(err)
		}
		enc, _ := p.MarshalBinary()
		bytes += len(enc)
		items[i] = item{k, v, p}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		it := &items[i%len(items)]
		if err := Verify(suite, root, it.key, &it.value, it.proof); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bytes)/float64(len(items)), "proof-bytes")
}
