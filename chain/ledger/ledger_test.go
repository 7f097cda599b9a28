package ledger_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/smt"
	"github.com/polityledger/polity/domains/records"
)

func TestGenesisInit(t *testing.T) {
	f := newFixture(t, 0)
	fs := vfs.NewMem()
	l, err := ledger.Open("db", suite, ledger.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Genesis(); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("genesis of an empty ledger: %v", err)
	}
	if err := l.Init(f.g); err != nil {
		t.Fatal(err)
	}
	want := f.g.Header(suite, crypto.Hash{})
	head, hash := l.Head()
	if head != *want || hash != want.Hash(suite) || l.Height() != 0 {
		t.Fatalf("head after init %+v, want the genesis header", head)
	}
	b0, err := l.Block(0)
	if err != nil || b0.Header != *want || len(b0.Txs) != 0 || len(b0.Commit.Sigs) != 0 {
		t.Fatalf("block 0: %+v, %v", b0, err)
	}
	if rcs, err := l.Receipts(0); err != nil || rcs != nil {
		t.Fatalf("receipts 0: %v, %v", rcs, err)
	}
	g, err := l.Genesis()
	if err != nil || !bytes.Equal(g.Encode(), f.g.Encode()) {
		t.Fatalf("stored genesis %+v, %v", g, err)
	}

	// Idempotent: the same genesis again changes nothing.
	if err := l.Init(f.g); err != nil {
		t.Fatalf("second init: %v", err)
	}
	if h2, hash2 := l.Head(); h2 != head || hash2 != hash {
		t.Fatal("second init moved the head")
	}

	// Any difference in the genesis document is refused.
	variants := map[string]func(g *chain.Genesis){
		"time":       func(g *chain.Genesis) { g.Time++ },
		"chain id":   func(g *chain.Genesis) { g.ChainID = "other-chain" },
		"validators": func(g *chain.Genesis) { g.Validators.Validators[0].ID = "someone-else" },
		"modules":    func(g *chain.Genesis) { g.Modules = append(g.Modules, "extra") },
		"work limit": func(g *chain.Genesis) { g.TxWorkLimit = 5 },
	}
	for name, mutate := range variants {
		g2, err := chain.DecodeGenesis(f.g.Encode())
		if err != nil {
			t.Fatal(err)
		}
		mutate(g2)
		if err := l.Init(g2); !errors.Is(err, ledger.ErrGenesisMismatch) {
			t.Errorf("%s changed: init returned %v, want ErrGenesisMismatch", name, err)
		}
	}
	if h2, _ := l.Head(); h2 != head {
		t.Fatal("refused init moved the head")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, the head is loaded before Init, and Init checks again.
	l, err = ledger.Open("db", suite, ledger.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if h2, hash2 := l.Head(); h2 != head || hash2 != hash {
		t.Fatalf("reopened head %+v", h2)
	}
	g2 := *f.g
	g2.Time++
	if err := l.Init(&g2); !errors.Is(err, ledger.ErrGenesisMismatch) {
		t.Fatalf("mismatched genesis after reopen: %v", err)
	}
	if err := l.Init(f.g); err != nil {
		t.Fatalf("same genesis after reopen: %v", err)
	}
}

func recordValue(t *testing.T, l *ledger.Ledger, id string) *records.Record {
	t.Helper()
	v, err := l.Get(records.StateKey(id))
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return nil
	}
	var r records.Record
	if err := json.Unmarshal(v, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// commitMixed commits n blocks of puts, overwrites, deletes, failed calls
// and (every fifth block) no transactions at all, recording them in hs.
func commitMixed(t *testing.T, f *fixture, l *ledger.Ledger, hs *history, n int) {
	t.Helper()
	for range n {
		h := l.Height() + 1
		var txs []*chain.Tx
		if h%5 != 0 {
			for u := range f.users {
				txs = append(txs, f.put(u, fmt.Sprintf("u%d-h%d", u, h), strings.Repeat(string(rune('a'+u)), int(10*h))))
				txs = append(txs, f.put(u, fmt.Sprintf("u%d-shared", u), fmt.Sprintf("version %d", h)))
			}
			if h > 2 {
				txs = append(txs, f.del(0, fmt.Sprintf("u0-h%d", h-1)))
				// Not the owner: fails, only the nonce advances.
				txs = append(txs, f.put(1, "u0-shared", "stolen"))
			}
		}
		bl := f.commit(l, txs)
		hs.add(bl)
		if h > 2 && h%5 != 0 {
			last := bl.res.Receipts[len(bl.res.Receipts)-1]
			if last.Status != chain.StatusFailed || !strings.Contains(last.Error, records.ErrNotOwner.Error()) {
				t.Fatalf("block %d: overwrite by a non-owner: %+v", h, last)
			}
		}
	}
}

func TestCommitReopen(t *testing.T) {
	f := newFixture(t, 3)
	dir := t.TempDir()
	l := f.open(dir, ledger.Options{StateHistory: 3}) // prunes as it goes
	hs := newHistory(t, l, &f.g.Validators)
	commitMixed(t, f, l, hs, 12)
	checkLedger(t, l, hs, 12)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = f.open(dir, ledger.Options{StateHistory: 3})
	defer l.Close()
	checkLedger(t, l, hs, 12)
	if r := recordValue(t, l, "u0-shared"); r == nil || r.Data != "version 12" || r.Height != 12 ||
		r.Owner != chain.AddressOf(suite, f.users[0].Public().Bytes()).String() {
		t.Fatalf("u0-shared after reopen: %+v", r)
	}
	if r := recordValue(t, l, "u0-h8"); r != nil {
		t.Fatalf("u0-h8 was deleted at 9, reads %+v", r)
	}
	if r := recordValue(t, l, "u1-h8"); r == nil || r.Height != 8 {
		t.Fatalf("u1-h8: %+v", r)
	}
	for u, k := range f.users {
		if got := nonceOf(t, l, k); got != f.nonces[u] {
			t.Fatalf("user %d nonce %d, want %d", u, got, f.nonces[u])
		}
	}

	// The chain goes on after a reopen.
	commitMixed(t, f, l, hs, 3)
	checkLedger(t, l, hs, 15)
	if _, _, err := l.TxLocation(suite.Hash([]byte("no such tx"))); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("unknown tx: %v", err)
	}
	if _, err := l.Block(99); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("block past the head: %v", err)
	}
	if _, err := l.Receipts(99); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("receipts past the head: %v", err)
	}
}

func TestCommitRejects(t *testing.T) {
	f := newFixture(t, 2)
	l := f.open("db", ledger.Options{FS: vfs.NewMem()})
	defer l.Close()
	hs := newHistory(t, l, &f.g.Validators)
	good := f.block(l, []*chain.Tx{f.put(0, "a", "one"), f.put(1, "b", "two")})
	other := f.block(l, []*chain.Tx{signTx(t, f.users[0], 0, "put", records.PutArgs{ID: "a", Data: "other"})})

	withHeader := func(mut func(h *chain.Header)) *chain.Block {
		b := *good.b
		mut(&b.Header)
		b.Commit = f.certify(&b.Header) // properly certified: the ledger must still refuse
		return &b
	}
	cases := []struct {
		name string
		b    *chain.Block
		su   *ledger.StateUpdate
	}{
		{"skips a height", withHeader(func(h *chain.Header) { h.Height = 2 }), good.su},
		{"repeats the head's height", withHeader(func(h *chain.Header) { h.Height = 0 }), good.su},
		{"wrong parent", withHeader(func(h *chain.Header) { h.Parent = suite.Hash([]byte("elsewhere")) }), good.su},
		{"state root differs from execution", withHeader(func(h *chain.Header) { h.StateRoot = other.su.Root }), good.su},
		{"state update of another execution", good.b, other.su},
		{"header tx count wrong", withHeader(func(h *chain.Header) { h.TxCount = 1 }), good.su},
		{"receipts missing", good.b, &ledger.StateUpdate{Root: good.su.Root}},
		{"txs missing", &chain.Block{Header: good.b.Header, Commit: good.b.Commit}, good.su},
	}
	for _, c := range cases {
		if err := l.Commit(c.b, c.su); !errors.Is(err, ledger.ErrNotNext) {
			t.Errorf("%s: commit returned %v, want ErrNotNext", c.name, err)
		}
		checkLedger(t, l, hs, 0)
	}

	if err := l.Commit(good.b, good.su); err != nil {
		t.Fatal(err)
	}
	hs.add(good)
	checkLedger(t, l, hs, 1)
	// Once committed, neither the same block nor a sibling goes in again.
	if err := l.Commit(good.b, good.su); !errors.Is(err, ledger.ErrNotNext) {
		t.Fatalf("same block twice: %v", err)
	}
	if err := l.Commit(other.b, other.su); !errors.Is(err, ledger.ErrNotNext) {
		t.Fatalf("sibling of the head: %v", err)
	}
	checkLedger(t, l, hs, 1)
}

func TestStateProofs(t *testing.T) {
	f := newFixture(t, 2)
	l := f.open("db", ledger.Options{FS: vfs.NewMem()})
	defer l.Close()
	hs := newHistory(t, l, &f.g.Validators)
	hs.add(f.commit(l, []*chain.Tx{f.put(0, "a", "first"), f.put(1, "b", "bee")}))
	hs.add(f.commit(l, []*chain.Tx{f.put(0, "a", "second"), f.put(1, "c", "sea")}))
	hs.add(f.commit(l, []*chain.Tx{f.del(1, "b")}))

	ka, kb, kc := records.StateKey("a"), records.StateKey("b"), records.StateKey("c")
	never := records.StateKey("never-written")
	nonce0 := exec.NonceKey(chain.AddressOf(suite, f.users[0].Public().Bytes()))

	// Head: inclusion, non-inclusion of a deleted and of a never-written key.
	pa3 := checkProof(t, l, ka, 3, hs.states[3][string(ka)])
	checkProof(t, l, kc, 3, hs.states[3][string(kc)])
	checkProof(t, l, nonce0, 3, uvarint(2))
	pb3 := checkProof(t, l, kb, 3, nil)
	checkProof(t, l, never, 3, nil)

	// Older heights keep their own roots: a's first value, b present, c absent.
	pa1 := checkProof(t, l, ka, 1, hs.states[1][string(ka)])
	pb1 := checkProof(t, l, kb, 1, hs.states[1][string(kb)])
	checkProof(t, l, kc, 1, nil)
	checkProof(t, l, nonce0, 1, uvarint(1))
	checkProof(t, l, ka, 2, hs.states[2][string(ka)])
	checkProof(t, l, kb, 0, nil) // the genesis state is empty
	if hs.states[1][string(ka)] == nil || bytes.Equal(hs.states[1][string(ka)], hs.states[3][string(ka)]) {
		t.Fatal("test setup: a should change between heights 1 and 3")
	}

	// Proofs are bound to their root, key and value.
	root1, root3 := hs.blocks[1].Header.StateRoot, hs.blocks[3].Header.StateRoot
	vOld, vNew := suite.Hash(hs.states[1][string(ka)]), suite.Hash(hs.states[3][string(ka)])
	kha, khb := chain.StateKeyHash(suite, ka), chain.StateKeyHash(suite, kb)
	mismatches := []struct {
		name string
		root crypto.Hash
		key  crypto.Hash
		vh   *crypto.Hash
		p    *smt.Proof
	}{
		{"old value against the head", root3, kha, &vOld, pa1.Proof},
		{"old value with the head's proof", root3, kha, &vOld, pa3.Proof},
		{"new value against height 1", root1, kha, &vNew, pa3.Proof},
		{"absence of a present key", root3, kha, nil, pa3.Proof},
		{"presence of a deleted key", root3, khb, pb1.ValueHash, pb3.Proof},
		{"absence at a height where it was present", root1, khb, nil, pb3.Proof},
		{"another key's proof", root3, khb, &vNew, pa3.Proof},
	}
	for _, m := range mismatches {
		if err := smt.Verify(suite, m.root, m.key, m.vh, m.p); !errors.Is(err, smt.ErrProofMismatch) {
			t.Errorf("%s: verify returned %v, want ErrProofMismatch", m.name, err)
		}
	}

	if _, err := l.ProveState(ka, 4); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("proof past the head: %v", err)
	}

	// The same proofs in an offline bundle verify against the certified
	// header, trusting only the genesis validator set.
	trusted := f.g.Validators.Hash(suite)
	for _, c := range []struct {
		key    []byte
		height uint64
		value  []byte
	}{{ka, 3, hs.states[3][string(ka)]}, {ka, 1, nil}, {kb, 3, nil}, {never, 2, nil}} {
		sp, err := l.ProveState(c.key, c.height)
		if err != nil {
			t.Fatal(err)
		}
		b := &proof.Bundle{
			Kind:      proof.KindState,
			Certified: proof.Certified{Suite: suite.Name(), Header: *sp.Header, Commit: *sp.Commit, Validators: f.g.Validators},
			Key:       c.key, ValueHash: sp.ValueHash, Value: c.value, StatePath: sp.Proof,
		}
		enc, err := b.Encode()
		if err != nil {
			t.Fatal(err)
		}
		dec, err := proof.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := proof.Verify(dec, proof.Options{TrustedValidators: trusted})
		if err != nil {
			t.Fatalf("bundle for %q at %d: %v", c.key, c.height, err)
		}
		if res.Height != c.height || res.Present != (sp.ValueHash != nil) || res.HeaderHash != hs.blocks[c.height].Header.Hash(suite) {
			t.Fatalf("bundle for %q at %d: result %+v", c.key, c.height, res)
		}
	}
}

func uvarint(n uint64) []byte { return binary.AppendUvarint(nil, n) }

// TestStatePruning: with a short state history, old trees go away while the
// head's state and the recent heights stay provable, and a proof below the
// horizon is refused rather than half-answered.
func TestStatePruning(t *testing.T) {
	f := newFixture(t, 2)
	const keep = 4
	l := f.open("db", ledger.Options{FS: vfs.NewMem(), StateHistory: keep})
	defer l.Close()
	hs := newHistory(t, l, &f.g.Validators)
	unpruned := f.open("db2", ledger.Options{FS: vfs.NewMem(), StateHistory: 1 << 40})
	defer unpruned.Close()
	var peak int
	for h := uint64(1); h <= 60; h++ {
		// Two records flip between two values, so tree nodes go stale and
		// come back; a third record is new each block (the state grows).
		txs := []*chain.Tx{
			f.put(0, "flip", fmt.Sprintf("v%d", h%2)),
			f.put(1, "flop", fmt.Sprintf("w%d", h%3)),
			f.put(0, fmt.Sprintf("new-%d", h), "x"),
		}
		hs.add(f.commit(l, txs))
		f.commit(unpruned, txs)
		checkState(t, l, hs, h)
		for back := uint64(0); back <= keep && back < h; back++ {
			for _, k := range hs.sortedKeys() {
				checkProof(t, l, []byte(k), h-back, hs.states[h-back][k])
			}
		}
		if h > keep+1 {
			if _, err := l.ProveState(records.StateKey("flip"), h-keep-1); !errors.Is(err, ledger.ErrPruned) {
				t.Fatalf("height %d: proof below the horizon: %v", h, err)
			}
		}
		peak = max(peak, ledger.StoredNodes(t, l))
	}
	// Unpruned, every block leaves its replaced paths behind; pruned, the
	// store holds about the live tree plus keep heights of changes.
	all := ledger.StoredNodes(t, unpruned)
	t.Logf("state-tree nodes: pruned store peaked at %d, unpruned %d", peak, all)
	if peak*2 > all {
		t.Fatalf("pruned store peaked at %d nodes, unpruned holds %d", peak, all)
	}
}

// TestReadsSeeWholeCommits: a reader that finds a sender's nonce used by a
// block also finds the transaction that used it and a head at or past that
// block, however its reads interleave with commits (admission once refused
// a transaction as replayed that its node did not yet report committed).
func TestReadsSeeWholeCommits(t *testing.T) {
	f := newFixture(t, 1)
	l := f.open(t.TempDir(), ledger.Options{})
	defer l.Close()
	const blocks = 200
	ids := make(chan crypto.Hash, blocks)
	done := make(chan struct{})
	var bad []string
	go func() {
		defer close(done)
		var seen []crypto.Hash // IDs of committed txs, by nonce
		for len(seen) < blocks && len(bad) == 0 {
			select {
			case id := <-ids:
				seen = append(seen, id)
			default:
			}
			v, err := l.Get(exec.NonceKey(chain.AddressOf(suite, f.users[0].Public().Bytes())))
			if err != nil {
				bad = append(bad, err.Error())
				break
			}
			n, err := exec.DecodeNonce(v) // transactions with a nonce below n are committed
			if err != nil {
				bad = append(bad, err.Error())
				break
			}
			for i := uint64(0); i < n && i < uint64(len(seen)); i++ {
				if _, _, err := l.TxLocation(seen[i]); err != nil {
					bad = append(bad, fmt.Sprintf("nonce %d used, its transaction: %v", i, err))
				}
			}
			if h := l.Height(); n > h {
				bad = append(bad, fmt.Sprintf("nonce %d used with the head at %d", n, h))
			}
		}
	}()
	for i := range blocks {
		tx := f.put(0, fmt.Sprintf("r%d", i), "x")
		ids <- tx.ID(suite) // before the commit: the reader knows it before it can see its nonce
		f.commit(l, []*chain.Tx{tx})
	}
	<-done
	if len(bad) > 0 {
		t.Fatalf("%d inconsistent reads, first: %s", len(bad), bad[0])
	}
}

// TestGetAfterCommit: a state read right after a commit answers with the
// committed value, though the same key was read (and cached) before it,
// both for a key that was absent and for one that changes; and a reader
// running alongside the commits never sees a nonce go back.
func TestGetAfterCommit(t *testing.T) {
	f := newFixture(t, 1)
	l := f.open(t.TempDir(), ledger.Options{})
	defer l.Close()
	nonceKey := exec.NonceKey(chain.AddressOf(suite, f.users[0].Public().Bytes()))
	nonce := func() uint64 {
		t.Helper()
		v, err := l.Get(nonceKey)
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			return 0
		}
		n, err := exec.DecodeNonce(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if v, err := l.Get(nonceKey); err != nil || v != nil {
		t.Fatalf("fresh chain: nonce %x, %v; want absent", v, err)
	}
	stop := make(chan struct{})
	went := make(chan string, 1)
	go func() {
		last := uint64(0)
		for {
			select {
			case <-stop:
				went <- ""
				return
			default:
			}
			v, err := l.Get(nonceKey)
			if err != nil {
				went <- err.Error()
				return
			}
			if v == nil {
				continue
			}
			n, err := exec.DecodeNonce(v)
			if err != nil || n < last {
				went <- fmt.Sprintf("nonce %d after %d (%v)", n, last, err)
				return
			}
			last = n
		}
	}()
	for i := range 50 {
		if got := nonce(); got != uint64(i) {
			t.Fatalf("before block %d: nonce %d", i+1, got)
		}
		f.commit(l, []*chain.Tx{f.put(0, fmt.Sprintf("r%d", i), "x")})
		if got := nonce(); got != uint64(i+1) {
			t.Fatalf("after block %d: nonce %d, want %d", i+1, got, i+1)
		}
	}
	close(stop)
	if msg := <-went; msg != "" {
		t.Fatal(msg)
	}
}

// TestStalePruningOlderIndex: a ledger whose stale-node index is in the
// older one-entry-per-node format (written before it became one entry per
// height) prunes exactly the nodes a ledger in the current format does.
func TestStalePruningOlderIndex(t *testing.T) {
	f := newFixture(t, 2)
	const keep = 3
	cur := f.open("cur", ledger.Options{FS: vfs.NewMem(), StateHistory: keep})
	defer cur.Close()
	old := f.open("old", ledger.Options{FS: vfs.NewMem(), StateHistory: keep})
	defer old.Close()
	unpruned := f.open("all", ledger.Options{FS: vfs.NewMem(), StateHistory: 1 << 40})
	defer unpruned.Close()
	for h := uint64(1); h <= 30; h++ {
		txs := []*chain.Tx{
			f.put(0, "flip", fmt.Sprintf("v%d", h%2)),
			f.put(1, fmt.Sprintf("new-%d", h), "x"),
		}
		f.commit(cur, txs)
		f.commit(old, txs)
		f.commit(unpruned, txs)
		ledger.SplitStaleIndex(t, old)
		if c, o := ledger.StoredNodes(t, cur), ledger.StoredNodes(t, old); c != o {
			t.Fatalf("height %d: %d nodes stored, %d with the older index", h, c, o)
		}
	}
	if all, kept := ledger.StoredNodes(t, unpruned), ledger.StoredNodes(t, old); kept >= all {
		t.Fatalf("older index: %d nodes kept of %d, nothing pruned", kept, all)
	}
}
