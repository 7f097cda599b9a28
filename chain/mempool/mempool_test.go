package mempool_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/mempool"
)

const chainID = "pool-test"

var suite = ed25519sha256.New()

// nonces is a committed-state nonce source the tests move by hand.
type nonces struct {
	mu   sync.Mutex
	next map[chain.Address]uint64
	fail bool
}

func (n *nonces) get(a chain.Address) (uint64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail {
		return 0, errors.New("state unavailable")
	}
	return n.next[a], nil
}

func (n *nonces) set(a chain.Address, v uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next[a] = v
}

type env struct {
	t      testing.TB
	pool   *mempool.Pool
	nonces *nonces
	keys   map[string]crypto.PrivateKey
}

func newEnv(t testing.TB, adjust func(*mempool.Config)) *env {
	t.Helper()
	cfg := mempool.DefaultConfig(suite, chainID)
	if adjust != nil {
		adjust(&cfg)
	}
	e := &env{t: t, nonces: &nonces{next: map[chain.Address]uint64{}}, keys: map[string]crypto.PrivateKey{}}
	p, err := mempool.New(cfg, e.nonces.get)
	if err != nil {
		t.Fatal(err)
	}
	e.pool = p
	return e
}

func (e *env) key(name string) crypto.PrivateKey {
	if k, ok := e.keys[name]; ok {
		return k
	}
	seed := suite.Hash([]byte("pool-test/" + name))
	k, err := suite.PrivateKey(seed[:])
	if err != nil {
		e.t.Fatal(err)
	}
	e.keys[name] = k
	return k
}

func (e *env) addr(name string) chain.Address {
	return chain.AddressOf(suite, e.key(name).Public().Bytes())
}

func (e *env) txx(sender string, nonce, expiry uint64, args string) *chain.Tx {
	tx := &chain.Tx{ChainID: chainID, Nonce: nonce, Module: "records", Method: "put", Args: []byte(args), Expiry: expiry}
	if err := tx.Sign(suite, e.key(sender)); err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *env) tx(sender string, nonce uint64) *chain.Tx { return e.txx(sender, nonce, 0, "{}") }

func (e *env) add(tx *chain.Tx, height uint64) crypto.Hash {
	e.t.Helper()
	id, err := e.pool.Add(tx, height)
	if err != nil {
		e.t.Fatalf("add %s nonce %d: %v", tx.Sender, tx.Nonce, err)
	}
	if id != tx.ID(suite) || !e.pool.Has(id) {
		e.t.Fatalf("add returned id %s, pool has it: %v", id, e.pool.Has(id))
	}
	return id
}

func (e *env) refuse(tx *chain.Tx, height uint64, want error) {
	e.t.Helper()
	n, b := e.pool.Len()
	if _, err := e.pool.Add(tx, height); !errors.Is(err, want) {
		e.t.Fatalf("add %s nonce %d: %v, want %v", tx.Sender, tx.Nonce, err, want)
	}
	if n2, b2 := e.pool.Len(); n2 != n || b2 != b {
		e.t.Fatalf("refused tx changed the pool size %d/%d → %d/%d", n, b, n2, b2)
	}
}

func (e *env) wantLen(n int) {
	e.t.Helper()
	if got, _ := e.pool.Len(); got != n {
		e.t.Fatalf("pool holds %d, want %d", got, n)
	}
}

func TestConfigValidate(t *testing.T) {
	good := mempool.DefaultConfig(suite, chainID)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*mempool.Config){
		"no suite":     func(c *mempool.Config) { c.Suite = nil },
		"bad chain":    func(c *mempool.Config) { c.ChainID = "Bad Chain" },
		"zero txs":     func(c *mempool.Config) { c.MaxTxs = 0 },
		"zero bytes":   func(c *mempool.Config) { c.MaxBytes = 0 },
		"zero/sender":  func(c *mempool.Config) { c.MaxPerSender = 0 },
		"negative txs": func(c *mempool.Config) { c.MaxTxs = -1 },
	} {
		c := good
		mut(&c)
		if _, err := mempool.New(c, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAdmission(t *testing.T) {
	e := newEnv(t, func(c *mempool.Config) { c.MaxPerSender = 4 })
	a := e.tx("a", 0)
	e.add(a, 10)
	e.wantLen(1)

	// Duplicates: the same tx, a re-signature of it, another tx on a held nonce.
	e.refuse(a, 10, mempool.ErrDuplicate)
	resigned := a.Clone()
	resigned.Sig = append([]byte(nil), a.Sig...)
	e.refuse(resigned, 10, mempool.ErrDuplicate)
	e.refuse(e.txx("a", 0, 0, `{"other":1}`), 10, mempool.ErrDuplicate)

	// Replays: nonces below the committed one.
	e.nonces.set(e.addr("b"), 3)
	for n := range uint64(3) {
		e.refuse(e.tx("b", n), 10, mempool.ErrReplayed)
	}
	e.add(e.tx("b", 3), 10)

	// Gaps: up to MaxPerSender-1 ahead of the committed nonce.
	e.add(e.tx("b", 3+3), 10)
	e.refuse(e.tx("b", 3+4), 10, mempool.ErrNonceGap)
	e.refuse(e.tx("b", 1<<62), 10, mempool.ErrNonceGap)

	// Wrong chain and expiry, checked against the head height given.
	other := &chain.Tx{ChainID: "other-chain", Module: "records", Method: "put"}
	if err := other.Sign(suite, e.key("a")); err != nil {
		t.Fatal(err)
	}
	e.refuse(other, 10, mempool.ErrWrongChain)
	e.refuse(e.txx("c", 0, 10, "{}"), 10, mempool.ErrExpired)
	e.refuse(e.txx("c", 0, 3, "{}"), 10, mempool.ErrExpired)
	e.add(e.txx("c", 0, 11, "{}"), 10) // includable in the next block
	e.wantLen(4)

	// A failing nonce source refuses rather than guesses.
	e.nonces.fail = true
	if _, err := e.pool.Add(e.tx("d", 0), 10); err == nil {
		t.Fatal("admitted without a committed nonce")
	}
	e.nonces.fail = false
}

func TestBadSignaturesNeverAdmitted(t *testing.T) {
	e := newEnv(t, nil)
	good := e.tx("a", 0)
	sigFlip := good.Clone()
	sigFlip.Sig = append([]byte(nil), good.Sig...)
	sigFlip.Sig[5] ^= 1
	bodyChanged := good.Clone()
	bodyChanged.Args = []byte(`{"x":1}`)
	otherKey := good.Clone()
	otherKey.PubKey = e.key("b").Public().Bytes() // signature by a, sender still a's DID
	otherSender := good.Clone()
	otherSender.Sender = chain.KeyDID(suite, e.key("b").Public().Bytes())
	noSig := good.Clone()
	noSig.Sig = nil
	badKey := good.Clone()
	badKey.PubKey = make([]byte, 31)
	cases := map[string]struct {
		tx   *chain.Tx
		want error
	}{
		"flipped signature bit": {sigFlip, chain.ErrBadSignature},
		"body changed":          {bodyChanged, chain.ErrBadSignature},
		"other public key":      {otherKey, chain.ErrWrongSender},
		"other sender DID":      {otherSender, chain.ErrWrongSender},
		"no signature":          {noSig, chain.ErrTxMalformed},
		"malformed key":         {badKey, chain.ErrBadSignature},
	}
	for name, c := range cases {
		id, err := e.pool.Add(c.tx, 0)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if e.pool.Has(c.tx.ID(suite)) || e.pool.Has(id) {
			t.Errorf("%s: pool holds it", name)
		}
	}
	e.wantLen(0)
	if got := e.pool.Batch(10, 1); len(got) != 0 {
		t.Fatalf("batch of %d from an empty pool", len(got))
	}
	// The valid original still goes in: nothing was reserved by the forgeries.
	e.add(good, 0)

	// A configured verifier is what decides.
	calls := 0
	e2 := newEnv(t, func(c *mempool.Config) {
		c.Verify = func(tx *chain.Tx) error {
			calls++
			if tx.Nonce == 1 {
				return errors.New("revoked key")
			}
			return nil
		}
	})
	e2.add(e2.tx("a", 0), 0)
	if _, err := e2.pool.Add(e2.tx("a", 1), 0); err == nil || err.Error() != "revoked key" {
		t.Fatalf("custom verifier: %v", err)
	}
	if calls != 2 {
		t.Fatalf("verifier called %d times", calls)
	}
}

func TestLimits(t *testing.T) {
	t.Run("sender quota", func(t *testing.T) {
		e := newEnv(t, func(c *mempool.Config) { c.MaxPerSender = 4 })
		for n := range uint64(4) {
			e.add(e.tx("a", n), 0)
		}
		// Committed state moved on without an Update yet: nonces 4.. are in
		// the window, but a already holds its quota.
		e.nonces.set(e.addr("a"), 2)
		e.refuse(e.tx("a", 4), 0, mempool.ErrSenderQuota)
		e.add(e.tx("b", 0), 0) // other senders are not affected
		e.pool.Update(nil, 0)  // a not in a block: nothing evicted
		e.wantLen(5)
		e.pool.Update([]*chain.Tx{e.tx("a", 1)}, 1)
		e.wantLen(3)
		e.add(e.tx("a", 4), 1)
	})
	t.Run("max txs", func(t *testing.T) {
		e := newEnv(t, func(c *mempool.Config) { c.MaxTxs = 3 })
		for _, s := range []string{"a", "b", "c"} {
			e.add(e.tx(s, 0), 0)
		}
		e.refuse(e.tx("d", 0), 0, mempool.ErrFull)
		e.refuse(e.tx("a", 1), 0, mempool.ErrFull)
		e.nonces.set(e.addr("a"), 1)
		e.pool.Update([]*chain.Tx{e.tx("a", 0)}, 1)
		e.add(e.tx("d", 0), 1)
	})
	t.Run("max bytes", func(t *testing.T) {
		big := `{"data":"` + strings.Repeat("x", 2000) + `"}`
		one := len(newEnv(t, nil).txx("a", 0, 0, big).Encode())
		e := newEnv(t, func(c *mempool.Config) { c.MaxBytes = 2*one + one/2 })
		e.add(e.txx("a", 0, 0, big), 0)
		e.add(e.txx("b", 0, 0, big), 0)
		if n, b := e.pool.Len(); n != 2 || b != 2*one {
			t.Fatalf("len %d, %d bytes; want 2, %d", n, b, 2*one)
		}
		e.refuse(e.txx("c", 0, 0, big), 0, mempool.ErrFull)
		// A small one still fits: the bound is on bytes.
		small := e.tx("c", 0)
		if len(small.Encode()) > one/2 {
			t.Fatal("test setup: small tx not small enough")
		}
		e.add(small, 0)
		if _, b := e.pool.Len(); b != 2*one+len(small.Encode()) {
			t.Fatalf("bytes %d", b)
		}
	})
}

// order names a batch's transactions as sender and nonce: "a0 b0 a1 ".
func (e *env) order(txs []*chain.Tx) string {
	s := ""
	for _, tx := range txs {
		name := "?"
		for n, k := range e.keys {
			if chain.KeyDID(suite, k.Public().Bytes()) == tx.Sender {
				name = n
			}
		}
		s += fmt.Sprintf("%s%d ", name, tx.Nonce)
	}
	return s
}

func TestBatch(t *testing.T) {
	e := newEnv(t, nil)
	for n := range uint64(5) {
		e.add(e.tx("a", n), 0)
		e.add(e.tx("b", n), 0)
	}
	e.add(e.tx("c", 0), 0)
	// d's next committed nonce is 0, but it only has 1 and 2: a gap.
	e.add(e.tx("d", 1), 0)
	e.add(e.tx("d", 2), 0)
	// e holds 0, 1 and 3: only 0 and 1 are executable.
	for _, n := range []uint64{0, 1, 3} {
		e.add(e.tx("e", n), 0)
	}

	// Senders take turns in first-seen order, each from its next nonce.
	if got, want := e.order(e.pool.Batch(9, 1)), "a0 b0 c0 e0 a1 b1 e1 a2 b2 "; got != want {
		t.Fatalf("batch %q, want %q", got, want)
	}
	if got, want := e.order(e.pool.Batch(100, 1)), "a0 b0 c0 e0 a1 b1 e1 a2 b2 a3 b3 a4 b4 "; got != want {
		t.Fatalf("batch %q, want %q", got, want)
	}
	if got := e.pool.Batch(0, 1); len(got) != 0 {
		t.Fatalf("batch of max 0 returned %d", len(got))
	}
	if got := e.order(e.pool.Batch(1, 1)); got != "a0 " {
		t.Fatalf("batch of 1: %q", got)
	}
	// Batch does not remove anything.
	e.wantLen(16)

	// Each sender's run follows committed state.
	e.nonces.set(e.addr("a"), 3)
	e.nonces.set(e.addr("d"), 1)
	if got, want := e.order(e.pool.Batch(100, 1)), "a3 b0 c0 d1 e0 a4 b1 d2 e1 b2 b3 b4 "; got != want {
		t.Fatalf("batch %q, want %q", got, want)
	}
}

// TestPending: every held transaction, gaps and all, each sender's in nonce
// order, senders in first-seen order.
func TestPending(t *testing.T) {
	e := newEnv(t, nil)
	for _, n := range []uint64{3, 0, 1} {
		e.add(e.tx("e", n), 0)
	}
	e.add(e.tx("d", 2), 0)
	e.add(e.tx("d", 1), 0)
	if got, want := e.order(e.pool.Pending(100)), "e0 e1 e3 d1 d2 "; got != want {
		t.Fatalf("pending %q, want %q", got, want)
	}
	if got, want := e.order(e.pool.Pending(4)), "e0 e1 e3 d1 "; got != want {
		t.Fatalf("pending of 4 %q, want %q", got, want)
	}
	e.wantLen(5)
}

// TestBatchExpiry: Batch's height is the block being built, so a tx whose
// expiry is that height is included (the executor accepts it there), and an
// expired one stops its sender's run.
func TestBatchExpiry(t *testing.T) {
	e := newEnv(t, nil)
	e.add(e.txx("a", 0, 5, "{}"), 3)
	e.add(e.txx("a", 1, 0, "{}"), 3)
	e.add(e.txx("b", 0, 4, "{}"), 3)
	e.add(e.txx("b", 1, 0, "{}"), 3)
	if got, want := e.order(e.pool.Batch(10, 4)), "a0 b0 a1 b1 "; got != want {
		t.Fatalf("block 4: batch %q, want %q", got, want)
	}
	if got, want := e.order(e.pool.Batch(10, 5)), "a0 a1 "; got != want {
		t.Fatalf("block 5: batch %q, want %q", got, want)
	}
	if got := e.order(e.pool.Batch(10, 6)); got != "" {
		t.Fatalf("block 6: batch %q, want none", got)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t, nil)
	var committed []*chain.Tx
	for n := range uint64(3) {
		tx := e.tx("a", n)
		e.add(tx, 0)
		if n < 2 {
			committed = append(committed, tx)
		}
	}
	bIDs := []crypto.Hash{e.add(e.tx("b", 0), 0), e.add(e.tx("b", 1), 0)}
	expiring := e.add(e.txx("c", 0, 2, "{}"), 0)
	cLater := e.add(e.txx("c", 1, 0, "{}"), 0)
	// d's nonce 0 was committed through another node's pool: not held here.
	dStale := e.add(e.tx("d", 0), 0)
	_, bytesBefore := e.pool.Len()

	// Block 1 commits a0, a1 and d's nonce-0 tx (a different one).
	e.nonces.set(e.addr("a"), 2)
	e.nonces.set(e.addr("d"), 1)
	dOther := e.txx("d", 0, 0, `{"elsewhere":1}`)
	e.pool.Update(append(committed, dOther), 1)
	for _, tx := range committed {
		if e.pool.Has(tx.ID(suite)) {
			t.Fatal("committed tx still pending")
		}
	}
	if e.pool.Has(dStale) {
		t.Fatal("tx with a committed nonce still pending")
	}
	for _, id := range append(bIDs, expiring, cLater) {
		if !e.pool.Has(id) {
			t.Fatal("unrelated tx evicted")
		}
	}
	e.wantLen(5)
	if _, b := e.pool.Len(); b >= bytesBefore {
		t.Fatalf("bytes %d not reduced from %d", b, bytesBefore)
	}
	if got, want := e.order(e.pool.Batch(10, 2)), "a2 b0 c0 b1 c1 "; got != want {
		t.Fatalf("batch after update %q, want %q", got, want)
	}

	// Block 2 commits nothing of ours; c's expiry-2 tx can no longer go in.
	e.pool.Update(nil, 2)
	if e.pool.Has(expiring) || !e.pool.Has(cLater) {
		t.Fatal("expiry eviction")
	}
	e.wantLen(4)
	// c's later tx waits behind the gap; the others go on.
	if got, want := e.order(e.pool.Batch(10, 3)), "a2 b0 b1 "; got != want {
		t.Fatalf("batch %q, want %q", got, want)
	}

	// Everything committed: the pool empties, a sender can start again.
	e.nonces.set(e.addr("a"), 3)
	e.nonces.set(e.addr("b"), 2)
	e.nonces.set(e.addr("c"), 2)
	e.pool.Update([]*chain.Tx{e.tx("a", 2), e.tx("b", 0), e.tx("b", 1), e.txx("c", 1, 0, "{}")}, 3)
	if n, b := e.pool.Len(); n != 0 || b != 0 {
		t.Fatalf("pool holds %d txs, %d bytes after everything committed", n, b)
	}
	e.add(e.tx("b", 2), 3)
	if got := e.order(e.pool.Batch(10, 4)); got != "b2 " {
		t.Fatalf("batch %q", got)
	}
}

func TestNextNonce(t *testing.T) {
	e := newEnv(t, nil)
	a := e.addr("a")
	if n := e.pool.NextNonce(a, 0); n != 0 {
		t.Fatalf("unknown sender: %d", n)
	}
	for _, n := range []uint64{0, 1, 3} {
		e.add(e.tx("a", n), 0)
	}
	if n := e.pool.NextNonce(a, 0); n != 2 {
		t.Fatalf("next with 0, 1, 3 pending: %d", n)
	}
	if n := e.pool.NextNonce(a, 3); n != 4 {
		t.Fatalf("next from committed 3: %d", n)
	}
	if n := e.pool.NextNonce(a, 7); n != 7 {
		t.Fatalf("next from committed 7: %d", n)
	}
	if n := e.pool.NextNonce(e.addr("b"), 5); n != 5 {
		t.Fatalf("other sender: %d", n)
	}
}

func TestConcurrentAdd(t *testing.T) {
	e := newEnv(t, nil)
	const senders, per = 8, 25
	txs := make([][]*chain.Tx, senders)
	for s := range senders {
		for n := range uint64(per) {
			txs[s] = append(txs[s], e.tx(fmt.Sprintf("s%d", s), n))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders*per*2)
	for s := range senders {
		for _, half := range [][]*chain.Tx{txs[s], txs[s]} { // each tx twice, concurrently
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, tx := range half {
					if _, err := e.pool.Add(tx, 0); err != nil && !errors.Is(err, mempool.ErrDuplicate) {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			e.pool.Batch(64, 1)
			e.pool.Len()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.wantLen(senders * per)
	if got := e.pool.Batch(senders*per, 1); len(got) != senders*per {
		t.Fatalf("batch of %d", len(got))
	}
}

func BenchmarkMempoolAdd(b *testing.B) {
	const senders, per = 512, 8
	e := newEnv(b, nil)
	txs := make([]*chain.Tx, 0, senders*per)
	for n := range uint64(per) {
		for s := range senders {
			txs = append(txs, e.txx(fmt.Sprintf("s%d", s), n, 0, `{"id":"bench","data":"0123456789abcdef0123456789abcdef"}`))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for range b.N {
		if i == len(txs) {
			b.StopTimer()
			e = newEnv(b, nil)
			i = 0
			b.StartTimer()
		}
		if _, err := e.pool.Add(txs[i], 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txs/s")
}

func TestVerifiedAndRemove(t *testing.T) {
	e := newEnv(t, nil)
	tx := e.tx("a", 0)
	if e.pool.Verified(tx) {
		t.Fatal("a transaction not in the pool counts as verified")
	}
	e.add(tx, 0)
	if !e.pool.Verified(tx) {
		t.Fatal("an admitted transaction does not count as verified")
	}
	// Same body (same ID), other signature bytes: must be verified again.
	forged := tx.Clone()
	forged.Sig = append([]byte(nil), tx.Sig...)
	forged.Sig[0] ^= 1
	if e.pool.Verified(forged) {
		t.Fatal("a different signature over an admitted body counts as verified")
	}
	e.pool.Remove(tx.ID(suite))
	e.wantLen(0)
	if e.pool.Verified(tx) || e.pool.Has(tx.ID(suite)) {
		t.Fatal("removed transaction still pending")
	}
}

// TestAddVerified: a batch-verified transaction meets every rule of Add
// except the signature check, which Precheck never runs.
func TestAddVerified(t *testing.T) {
	calls := 0
	e := newEnv(t, func(c *mempool.Config) {
		c.MaxPerSender = 2
		c.Verify = func(tx *chain.Tx) error { calls++; return tx.Verify(suite) }
	})
	tx := e.tx("a", 0)
	if id, err := e.pool.AddVerified(tx, 0); err != nil || id != tx.ID(suite) || !e.pool.Verified(tx) {
		t.Fatalf("AddVerified: %v", err)
	}
	wrong := *e.tx("a", 1)
	wrong.ChainID = "other"
	for _, c := range []struct {
		tx   *chain.Tx
		want error
	}{
		{tx, mempool.ErrDuplicate},
		{e.txx("a", 1, 5, "{}"), mempool.ErrExpired},
		{&wrong, mempool.ErrWrongChain},
		{e.tx("a", 2), mempool.ErrNonceGap},
	} {
		if _, err := e.pool.AddVerified(c.tx, 5); !errors.Is(err, c.want) {
			t.Errorf("nonce %d: %v, want %v", c.tx.Nonce, err, c.want)
		}
	}
	if err := e.pool.Precheck(e.txx("a", 1, 5, "{}"), 5); !errors.Is(err, mempool.ErrExpired) {
		t.Fatalf("Precheck of an expired tx: %v", err)
	}
	if calls != 0 {
		t.Fatalf("Config.Verify ran %d times", calls)
	}
	e.wantLen(1)
}
