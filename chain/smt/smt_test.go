package smt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/crypto"
)

// keyGen draws keys that exercise the tree: fresh ones, existing ones, and
// near neighbours of used keys (sharing long prefixes).
type keyGen struct {
	rng  *rand.Rand
	pool []crypto.Hash // every key drawn so far
}

func (g *keyGen) next(m model) crypto.Hash {
	var k crypto.Hash
	switch r := g.rng.IntN(100); {
	case r < 35 && len(m) > 0:
		// An existing key: pick from the pool until one is present.
		for range 8 {
			k = g.pool[g.rng.IntN(len(g.pool))]
			if _, ok := m[k]; ok {
				break
			}
		}
	case r < 50 && len(g.pool) > 0:
		k = g.pool[g.rng.IntN(len(g.pool))]
	case r < 75 && len(g.pool) > 0:
		i := g.rng.IntN(crypto.HashSize * 8)
		if g.rng.IntN(2) == 0 {
			i = 255 - g.rng.IntN(12)
		}
		k = flipBit(g.pool[g.rng.IntN(len(g.pool))], i)
	default:
		k = randHash(g.rng)
	}
	g.pool = append(g.pool, k)
	return k
}

// randomBatch returns sorted ops mixing inserts, overwrites (some with the
// same value), deletes and deletes of absent keys. A noop batch changes nothing.
func randomBatch(g *keyGen, m model, noop bool) []Op {
	n := []int{3, 20, 100, 400}[g.rng.IntN(4)]
	n = g.rng.IntN(n + 1)
	seen := map[crypto.Hash]bool{}
	var ops []Op
	for range n {
		k := g.next(m)
		if seen[k] {
			continue
		}
		seen[k] = true
		old, present := m[k]
		r := g.rng.IntN(100)
		switch {
		case noop && present:
			ops = append(ops, Op{Key: k, ValueHash: old})
		case noop:
			ops = append(ops, Op{Key: k, Delete: true, ValueHash: randHash(g.rng)})
		case present && r < 45:
			ops = append(ops, Op{Key: k, ValueHash: randHash(g.rng)})
		case present && r < 55:
			ops = append(ops, Op{Key: k, ValueHash: old})
		case present:
			ops = append(ops, Op{Key: k, Delete: true})
		case r < 75:
			ops = append(ops, Op{Key: k, ValueHash: randHash(g.rng)})
		default:
			ops = append(ops, Op{Key: k, Delete: true})
		}
	}
	sortOps(ops)
	return ops
}

// checkProofs checks Get, Prove and Verify for keys (present or not in m)
// against root, including a binary round trip of each proof.
func checkProofs(t *testing.T, tree *Tree, root crypto.Hash, m model, keys []crypto.Hash, tag string) {
	t.Helper()
	for _, k := range keys {
		v, present := m[k]
		got, found, err := tree.Get(root, k)
		if err != nil || found != present || got != v {
			t.Fatalf("%s: Get(%s) = %s, %v, %v; want %s, %v", tag, k, got, found, err, v, present)
		}
		p, err := tree.Prove(root, k)
		if err != nil {
			t.Fatalf("%s: Prove(%s): %v", tag, k, err)
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: MarshalBinary: %v", tag, err)
		}
		var q Proof
		if err := q.UnmarshalBinary(enc); err != nil {
			t.Fatalf("%s: UnmarshalBinary: %v", tag, err)
		}
		if !proofsEqual(p, &q) {
			t.Fatalf("%s: proof round trip changed it: %+v vs %+v", tag, p, &q)
		}
		other := vh("other value")
		if present {
			if err := Verify(suite, root, k, &v, &q); err != nil {
				t.Fatalf("%s: inclusion of %s: %v", tag, k, err)
			}
			if err := Verify(suite, root, k, nil, &q); !errors.Is(err, ErrProofMismatch) {
				t.Fatalf("%s: inclusion proof accepted as absence: %v", tag, err)
			}
			if err := Verify(suite, root, k, &other, &q); !errors.Is(err, ErrProofMismatch) {
				t.Fatalf("%s: inclusion proof accepted for another value: %v", tag, err)
			}
		} else {
			if err := Verify(suite, root, k, nil, &q); err != nil {
				t.Fatalf("%s: absence of %s: %v", tag, k, err)
			}
			if err := Verify(suite, root, k, &other, &q); !errors.Is(err, ErrProofMismatch) {
				t.Fatalf("%s: absence proof accepted for a value: %v", tag, err)
			}
		}
		wrongRoot := flipBit(root, 7)
		if err := Verify(suite, wrongRoot, k, m.ptr(k), &q); !errors.Is(err, ErrProofMismatch) {
			t.Fatalf("%s: proof accepted against another root: %v", tag, err)
		}
	}
}

func proofsEqual(p, q *Proof) bool {
	if len(p.Siblings) != len(q.Siblings) || (p.Other == nil) != (q.Other == nil) {
		return false
	}
	for i := range p.Siblings {
		if p.Siblings[i] != q.Siblings[i] {
			return false
		}
	}
	return p.Other == nil || *p.Other == *q.Other
}

func (m model) ptr(k crypto.Hash) *crypto.Hash {
	if v, ok := m[k]; ok {
		return &v
	}
	return nil
}

// absentKeys returns n keys not in m, half of them neighbours of present keys.
func absentKeys(rng *rand.Rand, m model, present []crypto.Hash, n int) []crypto.Hash {
	var out []crypto.Hash
	for len(out) < n {
		k := randHash(rng)
		if len(present) > 0 && rng.IntN(2) == 0 {
			k = flipBit(present[rng.IntN(len(present))], rng.IntN(256))
		}
		if _, ok := m[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func sample(rng *rand.Rand, keys []crypto.Hash, n int) []crypto.Hash {
	if len(keys) <= n {
		return keys
	}
	out := make([]crypto.Hash, n)
	for i := range out {
		out[i] = keys[rng.IntN(len(keys))]
	}
	return out
}

// TestRandomAgainstModel compares batched updates with the from-scratch
// reference on seeded random operation sequences.
func TestRandomAgainstModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, uint64(time.Now().UnixNano())}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			t.Logf("seed %d", seed)
			runRandom(t, seed, 40)
		})
	}
}

func runRandom(t *testing.T, seed uint64, rounds int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	g := &keyGen{rng: rng}
	store := memStore{}
	tree := New(suite, store)
	m := model{}
	var root crypto.Hash
	type snapshot struct {
		root crypto.Hash
		m    model
	}
	var history []snapshot
	for round := range rounds {
		tag := fmt.Sprintf("seed %d round %d", seed, round)
		noop := round%7 == 3
		ops := randomBatch(g, m, noop)
		oldReach := reachable(t, store, root)
		c, err := tree.Apply(root, ops)
		if err != nil {
			t.Fatalf("%s: Update: %v", tag, err)
		}
		newRoot, nodes := c.Root, c.Created
		store.put(t, nodes)
		m.apply(ops)
		if want := m.root(); newRoot != want {
			t.Fatalf("%s: root %s, reference %s (%d ops, %d keys)", tag, newRoot, want, len(ops), len(m))
		}
		if noop && (newRoot != root || len(nodes) != 0) {
			t.Fatalf("%s: no-op batch changed root or emitted %d nodes", tag, len(nodes))
		}
		// Update emits exactly the nodes of the new tree missing from the old.
		newReach := reachable(t, store, newRoot)
		emitted := map[crypto.Hash]bool{}
		for _, n := range nodes {
			if emitted[n.Hash] {
				t.Fatalf("%s: node %s emitted twice", tag, n.Hash)
			}
			emitted[n.Hash] = true
			if !newReach[n.Hash] || oldReach[n.Hash] {
				t.Fatalf("%s: emitted node %s is unreachable or unchanged", tag, n.Hash)
			}
		}
		for h := range newReach {
			if !oldReach[h] && !emitted[h] {
				t.Fatalf("%s: new node %s not emitted", tag, h)
			}
		}
		if emitted[newRoot] && nodes[len(nodes)-1].Hash != newRoot {
			t.Fatalf("%s: new root not emitted last", tag)
		}
		// Stale is exactly the old tree's nodes missing from the new one.
		stale := map[crypto.Hash]bool{}
		for _, n := range c.Stale {
			if stale[n.Hash] || !oldReach[n.Hash] || newReach[n.Hash] {
				t.Fatalf("%s: stale node %s repeated, not old, or still in the tree", tag, n.Hash)
			}
			if d, _ := store.Node(n.Hash); string(d) != string(n.Data) {
				t.Fatalf("%s: stale node %s carries the wrong encoding", tag, n.Hash)
			}
			stale[n.Hash] = true
		}
		for h := range oldReach {
			if !newReach[h] && !stale[h] {
				t.Fatalf("%s: dropped node %s not reported stale", tag, h)
			}
		}
		root = newRoot
		keys := m.sortedKeys()
		checkProofs(t, tree, root, m, sample(rng, keys, 40), tag)
		checkProofs(t, tree, root, m, absentKeys(rng, m, keys, 20), tag)
		if round%8 == 0 {
			history = append(history, snapshot{root, m.clone()})
		}
	}
	// Each kept root against its own keys and a sample of all keys used.
	for i, s := range history {
		tag := fmt.Sprintf("seed %d history %d", seed, i)
		checkProofs(t, tree, s.root, s.m, sample(rng, s.m.sortedKeys(), 200), tag)
		checkProofs(t, tree, s.root, s.m, sample(rng, g.pool, 100), tag)
	}
}

// TestOrderIndependence reaches one final state along different paths.
func TestOrderIndependence(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 77))
		g := &keyGen{rng: rng}
		final := model{}
		for len(final) < 300 {
			final[g.next(final)] = randHash(rng)
		}
		want := final.root()

		// Each path gets its own store, so nothing leaks between them.
		apply := func(batches [][]Op) crypto.Hash {
			store := memStore{}
			tree := New(suite, store)
			var root crypto.Hash
			for _, b := range batches {
				sortOps(b)
				r, nodes, err := tree.Update(root, b)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				store.put(t, nodes)
				root = r
			}
			return root
		}

		// One batch.
		var all []Op
		for k, v := range final {
			all = append(all, Op{Key: k, ValueHash: v})
		}
		if got := apply([][]Op{all}); got != want {
			t.Fatalf("seed %d: single batch root %s, want %s", seed, got, want)
		}

		// One key per batch, in random order.
		var singles [][]Op
		for _, i := range rng.Perm(len(all)) {
			singles = append(singles, []Op{all[i]})
		}
		if got := apply(singles); got != want {
			t.Fatalf("seed %d: one-by-one root %s, want %s", seed, got, want)
		}

		// Random interleaving with interim values and noise keys that are
		// inserted and later deleted.
		events := map[crypto.Hash][]Op{}
		for k, v := range final {
			for range rng.IntN(3) {
				events[k] = append(events[k], Op{Key: k, ValueHash: randHash(rng)})
			}
			if rng.IntN(4) == 0 {
				events[k] = append(events[k], Op{Key: k, Delete: true})
			}
			events[k] = append(events[k], Op{Key: k, ValueHash: v})
		}
		for range 200 {
			k := g.next(final)
			if _, ok := final[k]; ok {
				continue
			}
			events[k] = []Op{{Key: k, ValueHash: randHash(rng)}, {Key: k, Delete: true}}
		}
		var batches [][]Op
		for len(events) > 0 {
			var b []Op
			for k, ev := range events {
				if rng.IntN(3) != 0 {
					continue
				}
				b = append(b, ev[0])
				if len(ev) == 1 {
					delete(events, k)
				} else {
					events[k] = ev[1:]
				}
			}
			batches = append(batches, b)
		}
		if got := apply(batches); got != want {
			t.Fatalf("seed %d: interleaved root %s, want %s", seed, got, want)
		}
	}
}

// TestLongPrefixes uses keys that share up to 255 leading bits.
func TestLongPrefixes(t *testing.T) {
	store := memStore{}
	tree := New(suite, store)
	m := model{}
	var root crypto.Hash
	update := func(ops ...Op) {
		t.Helper()
		sortOps(ops)
		r, nodes, err := tree.Update(root, ops)
		if err != nil {
			t.Fatal(err)
		}
		store.put(t, nodes)
		m.apply(ops)
		if want := m.root(); r != want {
			t.Fatalf("root %s, reference %s", r, want)
		}
		root = r
	}
	base := vh("base")
	a, b, c := base, flipBit(base, 255), flipBit(base, 254)

	// Two keys differing in the last bit: leaves at depth 256.
	update(Op{Key: a, ValueHash: vh("a")}, Op{Key: b, ValueHash: vh("b")})
	for _, k := range []crypto.Hash{a, b} {
		p, err := tree.Prove(root, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Siblings) != KeyBits {
			t.Fatalf("depth %d, want %d", len(p.Siblings), KeyBits)
		}
	}
	// c's path leaves the pair at depth 254 and ends empty at 255.
	p, err := tree.Prove(root, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Siblings) != 255 || p.Other != nil {
		t.Fatalf("absence proof depth %d other %v", len(p.Siblings), p.Other)
	}
	checkProofs(t, tree, root, m, []crypto.Hash{a, b, c, flipBit(base, 0)}, "pair")

	// Neighbours at every bit: 257 keys, each pair sharing a prefix.
	var ops []Op
	for i := range KeyBits {
		k := flipBit(base, i)
		if k != b {
			ops = append(ops, Op{Key: k, ValueHash: vh(fmt.Sprint(i))})
		}
	}
	update(ops...)
	keys := m.sortedKeys()
	var probes []crypto.Hash
	for i := 0; i < KeyBits; i += 5 {
		for j := 0; j < KeyBits; j += 7 {
			probes = append(probes, flipBit(flipBit(base, i), j))
		}
	}
	checkProofs(t, tree, root, m, append(keys, probes...), "neighbours")

	// Delete down to one key: the tree collapses to that leaf.
	ops = ops[:0]
	for _, k := range keys {
		if k != b {
			ops = append(ops, Op{Key: k, Delete: true})
		}
	}
	update(ops[:len(ops)/2]...)
	update(ops[len(ops)/2:]...)
	bv := m[b]
	if want := suite.Hash([]byte{0}, b[:], bv[:]); root != want {
		t.Fatalf("root %s, want lone leaf %s", root, want)
	}
	update(Op{Key: b, Delete: true})
	if !root.IsZero() {
		t.Fatalf("empty tree root %s", root)
	}

	// Extreme keys.
	var zero, ones crypto.Hash
	for i := range ones {
		ones[i] = 0xff
	}
	update(Op{Key: zero, ValueHash: vh("z")}, Op{Key: flipBit(zero, 255), ValueHash: vh("z1")},
		Op{Key: flipBit(ones, 255), ValueHash: vh("o1")}, Op{Key: ones, ValueHash: vh("o")})
	checkProofs(t, tree, root, m, append(m.sortedKeys(), flipBit(zero, 0), flipBit(zero, 254), flipBit(ones, 254)), "extremes")
	update(Op{Key: flipBit(zero, 255), Delete: true}, Op{Key: ones, Delete: true})
	checkProofs(t, tree, root, m, []crypto.Hash{zero, ones, flipBit(zero, 255), flipBit(ones, 255)}, "extremes after delete")
}

// TestEdgeCases covers empty and single-leaf trees and no-op batches.
func TestEdgeCases(t *testing.T) {
	store := memStore{}
	tree := New(suite, store)
	k := vh("k")
	var empty crypto.Hash

	r, nodes, err := tree.Update(empty, nil)
	if err != nil || r != empty || nodes != nil {
		t.Fatalf("empty batch: %s %v %v", r, nodes, err)
	}
	r, nodes, err = tree.Update(empty, []Op{{Key: k, Delete: true}})
	if err != nil || r != empty || len(nodes) != 0 {
		t.Fatalf("delete from empty tree: %s %v %v", r, nodes, err)
	}
	checkProofs(t, tree, empty, model{}, []crypto.Hash{k}, "empty")

	r, nodes, err = tree.Update(empty, []Op{{Key: k, ValueHash: vh("v")}})
	if err != nil || len(nodes) != 1 {
		t.Fatalf("insert: %v, %d nodes", err, len(nodes))
	}
	store.put(t, nodes)
	v := vh("v")
	want := suite.Hash([]byte{0}, k[:], v[:])
	if r != want {
		t.Fatalf("single leaf root %s, want %s", r, want)
	}
	m := model{k: vh("v")}
	checkProofs(t, tree, r, m, []crypto.Hash{k, vh("x"), flipBit(k, 255)}, "single")

	// Same value and absent deletes: nothing changes, nothing is emitted.
	r2, nodes, err := tree.Update(r, []Op{{Key: k, ValueHash: vh("v")}, {Key: flipBit(k, 255), Delete: true}})
	if err != nil || r2 != r || len(nodes) != 0 {
		t.Fatalf("no-op: %s %d nodes %v", r2, len(nodes), err)
	}
}

// TestConcurrentReads proves against two roots from several goroutines (run
// with -race).
func TestConcurrentReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	store := memStore{}
	tree := New(suite, store)
	m := model{}
	var roots []crypto.Hash
	var models []model
	var root crypto.Hash
	for range 2 {
		var ops []Op
		for range 500 {
			ops = append(ops, Op{Key: randHash(rng), ValueHash: randHash(rng)})
		}
		sortOps(ops)
		r, nodes, err := tree.Update(root, ops)
		if err != nil {
			t.Fatal(err)
		}
		store.put(t, nodes)
		m.apply(ops)
		root = r
		roots = append(roots, r)
		models = append(models, m.clone())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := w % 2
			for k, v := range models[i] {
				p, err := tree.Prove(roots[i], k)
				if err == nil {
					err = Verify(suite, roots[i], k, &v, p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestErrors covers bad batches, missing and corrupt nodes, and bad proofs.
func TestErrors(t *testing.T) {
	store := memStore{}
	tree := New(suite, store)
	k1, k2 := vh("1"), vh("2")
	if compareKeys(k1, k2) > 0 {
		k1, k2 = k2, k1
	}
	for _, ops := range [][]Op{
		{{Key: k2}, {Key: k1}},
		{{Key: k1}, {Key: k1, Delete: true}},
	} {
		if _, _, err := tree.Update(crypto.Hash{}, ops); !errors.Is(err, ErrUnsortedKeys) {
			t.Fatalf("unsorted batch: %v", err)
		}
	}

	missing := vh("missing")
	if _, _, err := tree.Get(missing, k1); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := tree.Prove(missing, k1); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Prove: %v", err)
	}
	if _, _, err := tree.Update(missing, []Op{{Key: k1}}); !errors.Is(err, ErrMissingNode) {
		t.Fatalf("Update: %v", err)
	}

	// Malformed encodings, and a leaf stored off its key's path.
	bad := vh("bad")
	for _, data := range [][]byte{nil, make([]byte, NodeSize-1), append([]byte{2}, make([]byte, NodeSize-1)...)} {
		store[bad] = data
		if _, _, err := tree.Get(bad, k1); !errors.Is(err, ErrCorruptNode) {
			t.Fatalf("Get corrupt: %v", err)
		}
		if _, err := tree.Prove(bad, k1); !errors.Is(err, ErrCorruptNode) {
			t.Fatalf("Prove corrupt: %v", err)
		}
		if _, _, err := tree.Update(bad, []Op{{Key: k1}}); !errors.Is(err, ErrCorruptNode) {
			t.Fatalf("Update corrupt: %v", err)
		}
	}
	leaf := make([]byte, NodeSize) // a leaf for key 0x00...
	leafHash := suite.Hash(leaf)
	store[leafHash] = leaf
	inner := make([]byte, NodeSize)
	inner[0] = innerPrefix
	copy(inner[1+crypto.HashSize:], leafHash[:]) // ...placed on the 1 side
	innerHash := suite.Hash(inner)
	store[innerHash] = inner
	var right crypto.Hash
	right[0] = 0x80
	if _, _, err := tree.Get(innerHash, right); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Get misplaced leaf: %v", err)
	}
	if _, _, err := tree.Update(innerHash, []Op{{Key: right}}); !errors.Is(err, ErrCorruptNode) {
		t.Fatalf("Update misplaced leaf: %v", err)
	}

	// Proofs that are not canonical.
	v := vh("v")
	for _, p := range []*Proof{
		nil,
		{Siblings: make([]crypto.Hash, 1)},
		{Siblings: []crypto.Hash{k1, {}}},
		{Siblings: make([]crypto.Hash, KeyBits+1)},
		{Siblings: append(make([]crypto.Hash, KeyBits-1), k1), Other: &Leaf{Key: k2}},
	} {
		if err := Verify(suite, crypto.Hash{}, k1, &v, p); !errors.Is(err, ErrMalformedProof) {
			t.Fatalf("Verify(%v): %v", p, err)
		}
		if p == nil {
			continue
		}
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrMalformedProof) {
			t.Fatalf("MarshalBinary(%v): %v", p, err)
		}
	}
	// An absence proof naming the key itself, or a leaf off its path.
	root := suite.Hash([]byte{0}, k1[:], v[:])
	if err := Verify(suite, root, k1, nil, &Proof{Other: &Leaf{Key: k1, ValueHash: v}}); !errors.Is(err, ErrProofMismatch) {
		t.Fatalf("absence via own leaf: %v", err)
	}
	k3 := flipBit(k1, 0)
	if err := Verify(suite, root, k3, nil, &Proof{Other: &Leaf{Key: k1, ValueHash: v}}); err != nil {
		t.Fatalf("absence in single-leaf tree: %v", err)
	}
	if err := Verify(suite, crypto.Hash{}, k3, nil, &Proof{Siblings: []crypto.Hash{root}, Other: &Leaf{Key: k1, ValueHash: v}}); !errors.Is(err, ErrProofMismatch) {
		t.Fatalf("other leaf off path: %v", err)
	}
	if err := Verify(suite, crypto.Hash{}, k3, nil, &Proof{Siblings: append(make([]crypto.Hash, KeyBits-1), k1)}); !errors.Is(err, ErrProofMismatch) {
		t.Fatalf("absence at depth 256: %v", err)
	}
}

// TestGolden pins the root and a proof encoding so that any change to the
// hashing or encoding is noticed.
func TestGolden(t *testing.T) {
	store := memStore{}
	tree := New(suite, store)
	var ops []Op
	for i := range 8 {
		ops = append(ops, Op{Key: vh(fmt.Sprint("key", i)), ValueHash: vh(fmt.Sprint("value", i))})
	}
	sortOps(ops)
	root, nodes, err := tree.Update(crypto.Hash{}, ops)
	if err != nil {
		t.Fatal(err)
	}
	store.put(t, nodes)
	const wantRoot = "2ce0a90476944016767f368a41d07403ebfe900a9f3da9ebfda994cc227728ba"
	if root.String() != wantRoot {
		t.Errorf("root %s, want %s", root, wantRoot)
	}
	p, err := tree.Prove(root, vh("key0"))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := p.MarshalBinary()
	const wantProof = "000005f805d545da40b4f0e1f83eeaf7c7d88ff28d992fb5dc4c82b5898df0bb0d0ef0a6ef99540a77ca9a8d4273d7b65779d0b2cb070e3da9727eb90e04537fe18a03682b045dcd24b83a6de7f350bac2eebb8e1e6479b095488402f7f3f59a889e89ecf2b26fd69adfb365950f0dc71dffe86226c32503b9ac5d189f09999491f09ac637127a102968093d13c69d954c9d7c281f4bb93750c8968c8116091e9fb1b7d5"
	if got := fmt.Sprintf("%x", enc); got != wantProof {
		t.Errorf("proof %s, want %s", got, wantProof)
	}
	p, err = tree.Prove(root, vh("absent"))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ = p.MarshalBinary()
	const wantAbsent = "000002c048fa7b0fb0d1672be2a6fe66870c07aac52c5584b6217d6e76bc676e10ffef8f7974b1b6c2df8283ff1513e689082e5659b52a65ac8f975930cf1a2a8ee27c1a"
	if got := fmt.Sprintf("%x", enc); got != wantAbsent {
		t.Errorf("absence proof %s, want %s", got, wantAbsent)
	}
}

// FuzzUpdate applies fuzzer-chosen batches over 32 keys that share long
// prefixes and compares every root with the reference. Input pairs (k, v):
// k&31 picks the key, k&0x80 ends the batch after this op, v == 0 deletes.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 2, 1, 0x83, 1, 0, 0, 0x81, 0, 2, 7})
	f.Add([]byte{0x1f, 1, 0x9e, 2, 0x1f, 0, 0x1e, 0})
	base := vh("fuzz base")
	// Bit positions that key index bits flip: the keys share 0 to 255 bits.
	positions := []int{255, 254, 200, 31, 0}
	var keys [32]crypto.Hash
	for i := range keys {
		keys[i] = base
		for b, pos := range positions {
			if i>>b&1 == 1 {
				keys[i] = flipBit(keys[i], pos)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		store := memStore{}
		tree := New(suite, store)
		m := model{}
		var root crypto.Hash
		batch := map[crypto.Hash]Op{}
		flush := func() {
			var ops []Op
			for _, op := range batch {
				ops = append(ops, op)
			}
			clear(batch)
			sortOps(ops)
			r, nodes, err := tree.Update(root, ops)
			if err != nil {
				t.Fatal(err)
			}
			store.put(t, nodes)
			m.apply(ops)
			if want := m.root(); r != want {
				t.Fatalf("root %s, reference %s", r, want)
			}
			root = r
		}
		for i := 0; i+1 < len(data); i += 2 {
			k := keys[data[i]&31]
			if data[i+1] == 0 {
				batch[k] = Op{Key: k, Delete: true}
			} else {
				batch[k] = Op{Key: k, ValueHash: vh(string(data[i+1 : i+2]))}
			}
			if data[i]&0x80 != 0 {
				flush()
			}
		}
		flush()
		checkProofs(t, tree, root, m, keys[:], "fuzz")
	})
}

// TestPruneStale keeps only the latest tree, deleting stale nodes as a
// pruning store would: the store never holds garbage and never loses a node
// of the latest tree, even when keys go back to earlier values (re-creating
// nodes that an earlier change made stale).
func TestPruneStale(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x9a1e))
		g := &keyGen{rng: rng}
		store := memStore{}
		tree := New(suite, store)
		m := model{}
		var root crypto.Hash
		values := []crypto.Hash{vh("a"), vh("b"), vh("c")} // few values: leaves recur
		for round := range 100 {
			ops := randomBatch(g, m, false)
			for i := range ops {
				if !ops[i].Delete {
					ops[i].ValueHash = values[rng.IntN(len(values))]
				}
			}
			c, err := tree.Apply(root, ops)
			if err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			for _, n := range c.Stale {
				delete(store, n.Hash)
			}
			store.put(t, c.Created)
			m.apply(ops)
			root = c.Root
			live := reachable(t, store, root)
			if len(live) != len(store) {
				t.Fatalf("seed %d round %d: store holds %d nodes, tree %d", seed, round, len(store), len(live))
			}
		}
		if root != m.root() {
			t.Fatalf("seed %d: root differs from the reference", seed)
		}
		checkProofs(t, tree, root, m, sample(rng, m.sortedKeys(), 100), fmt.Sprintf("seed %d", seed))
	}
}
