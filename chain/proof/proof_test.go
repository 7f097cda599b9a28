package proof

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/crypto/sm2sm3"
	"github.com/polityledger/polity/chain/merkle"
	"github.com/polityledger/polity/chain/smt"
)

// memNodes is an in-memory smt.NodeReader.
type memNodes map[crypto.Hash][]byte

func (m memNodes) Node(h crypto.Hash) ([]byte, error) {
	if d, ok := m[h]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%s: %w", h, smt.ErrMissingNode)
}

// fixture is a certified block with its receipts and a state tree.
type fixture struct {
	s        crypto.Suite
	keys     []crypto.PrivateKey
	vs       chain.ValidatorSet
	header   chain.Header
	commit   chain.Commit
	txs      []*chain.Tx
	receipts []*chain.Receipt
	tree     *smt.Tree
	state    map[string][]byte
}

const chainID = "dept-a"

func newFixture(t testing.TB, s crypto.Suite) *fixture {
	t.Helper()
	f := &fixture{s: s, state: map[string][]byte{}}
	for i := 0; i < 4; i++ {
		seed := sha256.Sum256(fmt.Appendf(nil, "proof test validator %d", i))
		k, err := s.PrivateKey(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		f.keys = append(f.keys, k)
		f.vs.Validators = append(f.vs.Validators, chain.Validator{ID: fmt.Sprintf("node-%d", i), PubKey: k.Public().Bytes()})
	}
	if err := f.vs.Validate(s); err != nil {
		t.Fatal(err)
	}

	// Five transactions from two users, with receipts.
	for i := 0; i < 5; i++ {
		tx := &chain.Tx{ChainID: chainID, Nonce: uint64(i / 2), Module: "records", Method: "put",
			Args: fmt.Appendf(nil, `{"key":"doc-%d","value":"v%d"}`, i, i), Expiry: 100}
		if err := tx.Sign(s, f.keys[i%2]); err != nil {
			t.Fatal(err)
		}
		f.txs = append(f.txs, tx)
		rc := &chain.Receipt{TxID: tx.ID(s), WorkUsed: uint64(100 + i),
			Events: []chain.Event{{Type: "records.put", Attrs: []chain.Attr{{Key: "key", Value: fmt.Sprintf("doc-%d", i)}}}}}
		if i == 3 {
			rc.Status, rc.Error, rc.Events = chain.StatusFailed, "records: exists", nil
		}
		f.receipts = append(f.receipts, rc)
	}

	// State: a few keys in a sparse Merkle tree held in memory.
	nodes := memNodes{}
	f.tree = smt.New(s, nodes)
	var ops []smt.Op
	for i := 0; i < 6; i++ {
		k, v := fmt.Sprintf("records/doc-%d", i), fmt.Appendf(nil, "value %d", i)
		f.state[k] = v
		ops = append(ops, smt.Op{Key: chain.StateKeyHash(s, []byte(k)), ValueHash: s.Hash(v)})
	}
	slices.SortFunc(ops, func(a, b smt.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	root, created, err := f.tree.Update(crypto.Hash{}, ops)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range created {
		nodes[n.Hash] = n.Data
	}

	f.header = chain.Header{
		ChainID:        chainID,
		Height:         12,
		Time:           1_700_000_123_456,
		Parent:         s.Hash([]byte("block 11")),
		Proposer:       "node-1",
		TxRoot:         chain.TxRoot(s, (&chain.Block{Txs: f.txs}).TxIDs(s)),
		TxCount:        uint64(len(f.txs)),
		StateRoot:      root,
		ReceiptsRoot:   chain.ReceiptsRoot(s, f.receipts),
		ValidatorsHash: f.vs.Hash(s),
	}
	f.commit = f.sign(t, &f.header, 0, 2, 3)
	if err := chain.VerifyCommit(s, &f.vs, &f.header, &f.commit); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) sign(t testing.TB, h *chain.Header, idx ...int) chain.Commit {
	t.Helper()
	msg := chain.CommitMessage(h.ChainID, h.Height, h.Hash(f.s))
	var c chain.Commit
	for _, i := range idx {
		sig, err := f.keys[i].Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		c.Sigs = append(c.Sigs, chain.CommitSig{Index: uint32(i), Sig: sig})
	}
	return c
}

func (f *fixture) certified() Certified {
	return Certified{Suite: f.s.Name(), Header: f.header, Commit: f.commit, Validators: f.vs}
}

func (f *fixture) txBundle(i int) *Bundle {
	ids := (&chain.Block{Txs: f.txs}).TxIDs(f.s)
	leaves := make([]crypto.Hash, len(ids))
	for j, id := range ids {
		leaves[j] = merkle.LeafHash(f.s, id[:])
	}
	return &Bundle{
		Kind: KindTx, Certified: f.certified(),
		Tx: f.txs[i], Receipt: f.receipts[i], Index: uint64(i),
		TxPath:      merkle.Path(f.s, leaves, i),
		ReceiptPath: merkle.Path(f.s, chain.ReceiptLeaves(f.s, f.receipts), i),
	}
}

// stateBundle proves key; withValue includes the value when present.
func (f *fixture) stateBundle(t testing.TB, key string, withValue bool) *Bundle {
	t.Helper()
	kh := chain.StateKeyHash(f.s, []byte(key))
	p, err := f.tree.Prove(f.header.StateRoot, kh)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Kind: KindState, Certified: f.certified(), Key: []byte(key), StatePath: p}
	if v, ok := f.state[key]; ok {
		vh := f.s.Hash(v)
		b.ValueHash = &vh
		if withValue {
			b.Value = v
		}
	}
	return b
}

func mustEncode(t testing.TB, b *Bundle) []byte {
	t.Helper()
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// namedBundles is every kind of bundle the fixture makes.
func namedBundles(t testing.TB, f *fixture) []struct {
	name string
	b    *Bundle
} {
	return []struct {
		name string
		b    *Bundle
	}{
		{"tx 0", f.txBundle(0)},
		{"tx 2", f.txBundle(2)},
		{"tx 3 failed", f.txBundle(3)},
		{"tx 4 last", f.txBundle(4)},
		{"state present with value", f.stateBundle(t, "records/doc-1", true)},
		{"state present hash only", f.stateBundle(t, "records/doc-4", false)},
		{"state absent", f.stateBundle(t, "records/missing", false)},
		{"state absent beside a leaf", f.stateBundle(t, f.absentBesideLeaf(t), false)},
	}
}

// absentBesideLeaf returns an absent key whose proof ends at another key's leaf.
func (f *fixture) absentBesideLeaf(t testing.TB) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("records/none-%d", i)
		if f.stateBundle(t, k, false).StatePath.Other != nil {
			return k
		}
	}
	t.Fatal("no absent key ends at a leaf")
	return ""
}

// absent reports whether key is absent from the fixture's state.
func (f *fixture) absent(t testing.TB, key []byte) bool {
	t.Helper()
	_, found, err := f.tree.Get(f.header.StateRoot, chain.StateKeyHash(f.s, key))
	if err != nil {
		t.Fatal(err)
	}
	return !found
}

func TestBundleRoundTripAndVerify(t *testing.T) {
	for _, s := range []crypto.Suite{ed25519sha256.New(), sm2sm3.New()} {
		f := newFixture(t, s)
		for _, tc := range namedBundles(t, f) {
			t.Run(s.Name()+"/"+tc.name, func(t *testing.T) {
				enc := mustEncode(t, tc.b)
				got, err := Decode(enc)
				if err != nil {
					t.Fatal(err)
				}
				if again := mustEncode(t, got); !bytes.Equal(again, enc) {
					t.Fatal("re-encoding differs")
				}
				res, err := Verify(got, Options{})
				if err != nil {
					t.Fatal(err)
				}
				want := Result{ChainID: chainID, Height: 12, HeaderHash: f.header.Hash(s), ValidatorsHash: f.vs.Hash(s)}
				switch got.Kind {
				case KindTx:
					want.TxID, want.Status = got.Tx.ID(s), got.Receipt.Status
				case KindState:
					want.Present = tc.b.ValueHash != nil
				}
				if *res != want {
					t.Fatalf("result %+v, want %+v", res, want)
				}
				// Trust anchors: the right set passes, any other is untrusted.
				if _, err := Verify(got, Options{TrustedValidators: f.vs.Hash(s)}); err != nil {
					t.Fatalf("trusted set rejected: %v", err)
				}
				if _, err := Verify(got, Options{TrustedValidators: s.Hash([]byte("another set"))}); !errors.Is(err, ErrUntrusted) {
					t.Fatalf("untrusted set: %v", err)
				}
			})
		}
	}
}

// TestEveryByteMatters flips each byte of each bundle's encoding (with ^0x01
// and ^0xff) and requires Decode or Verify to fail every time, with one
// exception that is not a forgery: a proof of absence also proves every other
// key whose path ends in the same empty slot (or beside the same other leaf),
// so a changed key may still verify if that key is truly absent.
func TestEveryByteMatters(t *testing.T) {
	f := newFixture(t, ed25519sha256.New())
	for _, tc := range namedBundles(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			enc := mustEncode(t, tc.b)
			mut := make([]byte, len(enc))
			for i := range enc {
				for _, mask := range []byte{0x01, 0xff} {
					copy(mut, enc)
					mut[i] ^= mask
					b, err := Decode(mut)
					if err != nil {
						if !errors.Is(err, ErrMalformed) {
							t.Fatalf("byte %d ^%#x: Decode error %v does not wrap ErrMalformed", i, mask, err)
						}
						continue
					}
					if _, err := Verify(b, Options{}); err == nil {
						if tc.b.Kind == KindState && tc.b.ValueHash == nil && b.ValueHash == nil &&
							!bytes.Equal(b.Key, tc.b.Key) && f.absent(t, b.Key) {
							// Only the key changed, to another absent key.
							b.Key = tc.b.Key
							if bytes.Equal(mustEncode(t, b), enc) {
								continue
							}
						}
						t.Fatalf("byte %d of %d ^%#x: bundle still verifies", i, len(enc), mask)
					}
				}
			}
		})
	}
}

// TestEveryByteMattersSM2 is TestEveryByteMatters for one sm2-sm3 bundle.
func TestEveryByteMattersSM2(t *testing.T) {
	if testing.Short() {
		t.Skip("slow signature checks")
	}
	f := newFixture(t, sm2sm3.New())
	enc := mustEncode(t, f.txBundle(1))
	mut := make([]byte, len(enc))
	for i := range enc {
		copy(mut, enc)
		mut[i] ^= 0x01
		if b, err := Decode(mut); err == nil {
			if _, err := Verify(b, Options{}); err == nil {
				t.Fatalf("byte %d of %d ^1: bundle still verifies", i, len(enc))
			}
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	s := ed25519sha256.New()
	f := newFixture(t, s)
	tx := func(mod func(b *Bundle)) *Bundle {
		b := f.txBundle(2)
		mod(b)
		return b
	}
	state := func(key string, mod func(b *Bundle)) *Bundle {
		b := f.stateBundle(t, key, true)
		mod(b)
		return b
	}
	otherHeader := f.header
	otherHeader.Height++
	tests := []struct {
		name string
		b    *Bundle
		want error
	}{
		{"2 of 4 signatures", tx(func(b *Bundle) { b.Commit = f.sign(t, &f.header, 0, 3) }), chain.ErrNoQuorum},
		{"1 of 4 signatures", tx(func(b *Bundle) { b.Commit = f.sign(t, &f.header, 1) }), chain.ErrNoQuorum},
		{"no signatures", tx(func(b *Bundle) { b.Commit = chain.Commit{} }), chain.ErrNoQuorum},
		{"commit for another header", tx(func(b *Bundle) { b.Commit = f.sign(t, &otherHeader, 0, 1, 2) }), chain.ErrNoQuorum},
		{"repeated signer", tx(func(b *Bundle) {
			c := f.sign(t, &f.header, 0, 0, 2)
			b.Commit = c
		}), chain.ErrNoQuorum},
		{"validator set not the header's", tx(func(b *Bundle) {
			b.Validators = chain.ValidatorSet{Validators: append([]chain.Validator(nil), f.vs.Validators[:3]...)}
		}), chain.ErrCertMismatch},
		{"invalid validator set", tx(func(b *Bundle) {
			b.Validators = chain.ValidatorSet{Validators: []chain.Validator{f.vs.Validators[0], f.vs.Validators[0]}}
		}), chain.ErrBadValidators},
		{"unknown suite", tx(func(b *Bundle) { b.Suite = "rsa-md5" }), crypto.ErrUnknownSuite},
		{"other suite", tx(func(b *Bundle) { b.Suite = sm2sm3.Name }), ErrInvalid},
		{"wrong index", tx(func(b *Bundle) { b.Index = 1 }), merkle.ErrBadProof},
		{"index past the block", tx(func(b *Bundle) { b.Index = 5 }), merkle.ErrBadProof},
		{"tx of another index", tx(func(b *Bundle) { b.Tx = f.txs[1] }), ErrInvalid},
		{"receipt of another tx", tx(func(b *Bundle) { b.Receipt = f.receipts[1] }), ErrInvalid},
		{"receipt status changed", tx(func(b *Bundle) {
			rc := *b.Receipt
			rc.Status = chain.StatusFailed
			b.Receipt = &rc
		}), merkle.ErrBadProof},
		{"tx for another chain", tx(func(b *Bundle) {
			c := b.Tx.Clone()
			c.ChainID = "gov"
			b.Tx = c
		}), ErrInvalid},
		{"tx signature changed", tx(func(b *Bundle) {
			c := b.Tx.Clone()
			c.Sig = bytes.Clone(c.Sig)
			c.Sig[0] ^= 1
			b.Tx = c
		}), ErrInvalid},
		{"tx path short", tx(func(b *Bundle) { b.TxPath = b.TxPath[1:] }), merkle.ErrBadProof},
		{"receipt path of tx path", tx(func(b *Bundle) { b.ReceiptPath = b.TxPath }), merkle.ErrBadProof},
		{"state value changed", state("records/doc-1", func(b *Bundle) { b.Value = []byte("forged") }), ErrInvalid},
		{"state value hash changed", state("records/doc-1", func(b *Bundle) {
			vh := s.Hash([]byte("forged"))
			b.ValueHash, b.Value = &vh, []byte("forged")
		}), smt.ErrProofMismatch},
		{"state claimed absent", state("records/doc-1", func(b *Bundle) { b.ValueHash, b.Value = nil, nil }), smt.ErrProofMismatch},
		{"state key changed", state("records/doc-1", func(b *Bundle) { b.Key = []byte("records/doc-2") }), smt.ErrProofMismatch},
		{"state absent claimed present", state("records/missing", func(b *Bundle) {
			vh := s.Hash([]byte("x"))
			b.ValueHash = &vh
		}), smt.ErrProofMismatch},
		{"state proof of another key", state("records/doc-1", func(b *Bundle) {
			b.StatePath = f.stateBundle(t, "records/doc-2", false).StatePath
		}), smt.ErrProofMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(tc.b, Options{})
			if err == nil {
				t.Fatalf("verified: %+v", res)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			// The same holds after an encoding round trip.
			enc, eerr := tc.b.Encode()
			if eerr != nil {
				return
			}
			if b, derr := Decode(enc); derr == nil {
				if _, err := Verify(b, Options{}); err == nil {
					t.Fatal("decoded bundle verifies")
				}
			}
		})
	}
}

func TestEncodeRejectsIncomplete(t *testing.T) {
	f := newFixture(t, ed25519sha256.New())
	for name, b := range map[string]*Bundle{
		"tx without tx":       {Kind: KindTx, Certified: f.certified(), Receipt: f.receipts[0]},
		"tx without receipt":  {Kind: KindTx, Certified: f.certified(), Tx: f.txs[0]},
		"state without proof": {Kind: KindState, Certified: f.certified(), Key: []byte("k")},
		"unknown kind":        {Kind: 3, Certified: f.certified()},
		"kind zero":           {Certified: f.certified()},
	} {
		if _, err := b.Encode(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Encode = %v", name, err)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	f := newFixture(t, ed25519sha256.New())
	enc := mustEncode(t, f.txBundle(2))
	for i := 0; i < len(enc); i++ {
		if _, err := Decode(enc[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d-byte prefix: %v", i, err)
		}
	}
	for _, extra := range []byte{0, 1, 0xff} {
		if _, err := Decode(append(bytes.Clone(enc), extra)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("trailing %#x: %v", extra, err)
		}
	}
	// Unknown version and kind.
	for _, mut := range []struct {
		at  int
		val byte
	}{{0, 0}, {0, 2}, {1, 0}, {1, 3}, {1, 0xff}} {
		b := bytes.Clone(enc)
		b[mut.at] = mut.val
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("byte %d = %d: %v", mut.at, mut.val, err)
		}
	}
	// A state bundle with an empty value and with no value encode alike,
	// and a presence flag other than 0 or 1 is rejected.
	sb := f.stateBundle(t, "records/doc-0", false)
	senc := mustEncode(t, sb)
	sb.Value = []byte{}
	if !bytes.Equal(mustEncode(t, sb), senc) {
		t.Fatal("empty value encodes differently from none")
	}
	if _, err := Decode(senc); err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(senc, sb.Key) + len(sb.Key)
	if senc[at] != 1 {
		t.Fatalf("presence flag not found at %d", at)
	}
	for _, v := range []byte{2, 0xff} {
		b := bytes.Clone(senc)
		b[at] = v
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("presence flag %d: %v", v, err)
		}
	}
	if _, err := Decode(make([]byte, maxBundle+1)); !errors.Is(err, ErrMalformed) {
		t.Fatal("oversize bundle accepted")
	}
}

func FuzzDecodeBundle(f *testing.F) {
	fx := newFixture(f, ed25519sha256.New())
	for _, tc := range namedBundles(f, fx) {
		f.Add(mustEncode(f, tc.b))
	}
	sm := newFixture(f, sm2sm3.New())
	f.Add(mustEncode(f, sm.txBundle(0)))
	f.Add(mustEncode(f, sm.stateBundle(f, "records/missing", false)))
	// A bundle carrying a validator set change (decodes; does not verify).
	withSets := fx.txBundle(0)
	sb := fx.stateBundle(f, "records/missing", false)
	withSets.Anchor = &fx.vs
	withSets.Transitions = []Transition{{Header: fx.header, Commit: fx.commit, Next: fx.vs, Path: sb.StatePath}}
	f.Add(mustEncode(f, withSets))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := b.Encode()
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("accepted a non-canonical bundle (%v)", err)
		}
		res, err := Verify(b, Options{})
		if err == nil && (res == nil || res.HeaderHash != b.Header.Hash(mustSuite(t, b.Suite))) {
			t.Fatalf("bad result %+v", res)
		}
	})
}

func mustSuite(t *testing.T, name string) crypto.Suite {
	t.Helper()
	switch name {
	case ed25519sha256.Name:
		return ed25519sha256.New()
	case sm2sm3.Name:
		return sm2sm3.New()
	}
	t.Fatalf("verified under unknown suite %q", name)
	return nil
}
