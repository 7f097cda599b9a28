package ledger_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/smt"
	"github.com/polityledger/polity/domains/records"
)

const (
	testChainID   = "ledger-test"
	validatorID   = "validator-0"
	genesisTimeMs = 1_700_000_000_000
)

var suite = ed25519sha256.New()

// key derives a deterministic key pair from a label.
func key(tb testing.TB, label string) crypto.PrivateKey {
	tb.Helper()
	seed := suite.Hash([]byte("ledger-test-key/" + label))
	k, err := suite.PrivateKey(seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fixture is a one-validator chain running the records module, building
// blocks the way a replica does: execute, Prepare, fill the header roots,
// certify with the validator's signature.
type fixture struct {
	tb     testing.TB
	g      *chain.Genesis
	valKey crypto.PrivateKey
	exe    *exec.Serial
	users  []crypto.PrivateKey
	nonces []uint64 // next nonce of each user on the main chain
}

func newFixture(tb testing.TB, users int) *fixture {
	tb.Helper()
	f := &fixture{tb: tb, valKey: key(tb, "validator")}
	f.g = &chain.Genesis{
		ChainID:    testChainID,
		Kind:       chain.KindDepartment,
		Suite:      suite.Name(),
		Consensus:  chain.ConsensusSolo,
		Time:       genesisTimeMs,
		Validators: chain.ValidatorSet{Validators: []chain.Validator{{ID: validatorID, PubKey: f.valKey.Public().Bytes()}}},
		Modules:    []string{records.Name},
	}
	if err := f.g.Validate(suite); err != nil {
		tb.Fatal(err)
	}
	reg, err := module.NewRegistry(records.Module{})
	if err != nil {
		tb.Fatal(err)
	}
	f.exe = exec.NewSerial(exec.Config{Suite: suite, Registry: reg})
	for i := range users {
		f.users = append(f.users, key(tb, fmt.Sprintf("user-%d", i)))
	}
	f.nonces = make([]uint64, users)
	return f
}

// open opens and initialises a ledger.
func (f *fixture) open(dir string, o ledger.Options) *ledger.Ledger {
	f.tb.Helper()
	l, err := ledger.Open(dir, suite, o)
	if err != nil {
		f.tb.Fatalf("open: %v", err)
	}
	if err := l.Init(f.g); err != nil {
		l.Close()
		f.tb.Fatalf("init: %v", err)
	}
	return l
}

// signTx signs a records call by k with the given nonce.
func signTx(tb testing.TB, k crypto.PrivateKey, nonce uint64, method string, args any) *chain.Tx {
	tb.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		tb.Fatal(err)
	}
	tx := &chain.Tx{ChainID: testChainID, Nonce: nonce, Module: records.Name, Method: method, Args: raw}
	if err := tx.Sign(suite, k); err != nil {
		tb.Fatal(err)
	}
	return tx
}

// put returns user u's next records.put on the main chain.
func (f *fixture) put(u int, id, data string) *chain.Tx {
	tx := signTx(f.tb, f.users[u], f.nonces[u], "put", records.PutArgs{ID: id, Data: data})
	f.nonces[u]++
	return tx
}

// del returns user u's next records.delete on the main chain.
func (f *fixture) del(u int, id string) *chain.Tx {
	tx := signTx(f.tb, f.users[u], f.nonces[u], "delete", records.DeleteArgs{ID: id})
	f.nonces[u]++
	return tx
}

// built is a certified block with what executing it produced.
type built struct {
	b   *chain.Block
	su  *ledger.StateUpdate
	res *exec.Result
}

// block executes txs (all must be valid) on l's head and returns the
// certified block extending it.
func (f *fixture) block(l *ledger.Ledger, txs []*chain.Tx) built {
	f.tb.Helper()
	head, headHash := l.Head()
	h := chain.Header{
		ChainID:        f.g.ChainID,
		Height:         head.Height + 1,
		Time:           head.Time + 1000,
		Parent:         headHash,
		Proposer:       validatorID,
		ValidatorsHash: head.ValidatorsHash,
	}
	res, err := f.exe.Execute(module.Block{ChainID: h.ChainID, Height: h.Height, Time: h.Time}, txs, l, exec.Verify)
	if err != nil {
		f.tb.Fatalf("execute block %d: %v", h.Height, err)
	}
	su, err := l.Prepare(head.StateRoot, res.Writes)
	if err != nil {
		f.tb.Fatalf("prepare block %d: %v", h.Height, err)
	}
	su.Receipts = res.Receipts
	ids := make([]crypto.Hash, len(res.Txs))
	for i, tx := range res.Txs {
		ids[i] = tx.ID(suite)
	}
	h.TxRoot = chain.TxRoot(suite, ids)
	h.TxCount = uint64(len(res.Txs))
	h.ReceiptsRoot = chain.ReceiptsRoot(suite, res.Receipts)
	h.StateRoot = su.Root
	b := &chain.Block{Header: h, Txs: res.Txs, Commit: f.certify(&h)}
	if err := chain.VerifyCommit(suite, &f.g.Validators, &b.Header, &b.Commit); err != nil {
		f.tb.Fatalf("own certificate: %v", err)
	}
	return built{b: b, su: su, res: res}
}

// certify signs h as the genesis set's only validator.
func (f *fixture) certify(h *chain.Header) chain.Commit {
	f.tb.Helper()
	sig, err := f.valKey.Sign(chain.CommitMessage(h.ChainID, h.Height, h.Hash(suite)))
	if err != nil {
		f.tb.Fatal(err)
	}
	return chain.Commit{Sigs: []chain.CommitSig{{Index: 0, Sig: sig}}}
}

// commit builds a block from txs and commits it.
func (f *fixture) commit(l *ledger.Ledger, txs []*chain.Tx) built {
	f.tb.Helper()
	bl := f.block(l, txs)
	if err := l.Commit(bl.b, bl.su); err != nil {
		f.tb.Fatalf("commit block %d: %v", bl.b.Header.Height, err)
	}
	return bl
}

// stateModel is the expected state: full state key → value.
type stateModel map[string][]byte

// apply returns a copy of m with the block's writes applied.
func (m stateModel) apply(ws []exec.Write) stateModel {
	out := maps.Clone(m)
	if out == nil {
		out = stateModel{}
	}
	for _, w := range ws {
		if w.Value == nil {
			delete(out, string(w.Key))
		} else {
			out[string(w.Key)] = bytes.Clone(w.Value)
		}
	}
	return out
}

// root computes the state root of m from scratch in a fresh in-memory tree,
// independently of the ledger's node store.
func (m stateModel) root(tb testing.TB) crypto.Hash {
	tb.Helper()
	ops := make([]smt.Op, 0, len(m))
	for k, v := range m {
		ops = append(ops, smt.Op{Key: chain.StateKeyHash(suite, []byte(k)), ValueHash: suite.Hash(v)})
	}
	slices.SortFunc(ops, func(a, b smt.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	root, _, err := smt.New(suite, memNodes{}).Update(crypto.Hash{}, ops)
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

type memNodes map[crypto.Hash][]byte

func (s memNodes) Node(h crypto.Hash) ([]byte, error) {
	if d, ok := s[h]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: %s", smt.ErrMissingNode, h)
}

// history is what the chain should hold at each height (index = height).
type history struct {
	blocks []*chain.Block
	rcs    [][]*chain.Receipt
	states []stateModel
	keys   map[string]bool // every state key ever written
	vals   *chain.ValidatorSet
}

func newHistory(tb testing.TB, l *ledger.Ledger, vals *chain.ValidatorSet) *history {
	tb.Helper()
	b0, err := l.Block(0)
	if err != nil {
		tb.Fatal(err)
	}
	return &history{blocks: []*chain.Block{b0}, rcs: [][]*chain.Receipt{nil}, states: []stateModel{{}}, keys: map[string]bool{}, vals: vals}
}

// add records bl as the next height.
func (hs *history) add(bl built) {
	hs.blocks = append(hs.blocks, bl.b)
	hs.rcs = append(hs.rcs, bl.res.Receipts)
	hs.states = append(hs.states, hs.states[len(hs.states)-1].apply(bl.res.Writes))
	for _, w := range bl.res.Writes {
		hs.keys[string(w.Key)] = true
	}
}

func (hs *history) sortedKeys() []string {
	return slices.Sorted(maps.Keys(hs.keys))
}

// checkLedger verifies that l holds exactly heights 0..h of hs, with the
// state as of h, and that nothing of later heights is visible.
func checkLedger(tb testing.TB, l *ledger.Ledger, hs *history, h uint64) {
	tb.Helper()
	head, headHash := l.Head()
	if head.Height != h || l.Height() != h {
		tb.Fatalf("head at %d (Height %d), want %d", head.Height, l.Height(), h)
	}
	if want := hs.blocks[h].Header.Hash(suite); headHash != want {
		tb.Fatalf("head hash %s, want %s", headHash, want)
	}
	for i := uint64(0); i <= h; i++ {
		checkBlock(tb, l, hs, i)
	}
	if _, _, err := l.Header(h + 1); !errors.Is(err, ledger.ErrNotFound) {
		tb.Fatalf("header %d past the head: %v", h+1, err)
	}
	for i := h + 1; i < uint64(len(hs.blocks)); i++ {
		for _, tx := range hs.blocks[i].Txs {
			if _, _, err := l.TxLocation(tx.ID(suite)); !errors.Is(err, ledger.ErrNotFound) {
				tb.Fatalf("tx of block %d indexed with head at %d: %v", i, h, err)
			}
		}
	}
	checkState(tb, l, hs, h)
}

// checkBlock compares the stored block, certificate, receipts and tx index
// at height i with hs.
func checkBlock(tb testing.TB, l *ledger.Ledger, hs *history, i uint64) {
	tb.Helper()
	want := hs.blocks[i]
	got, err := l.Block(i)
	if err != nil {
		tb.Fatalf("block %d: %v", i, err)
	}
	if !bytes.Equal(got.Encode(), want.Encode()) {
		tb.Fatalf("block %d differs from the one committed", i)
	}
	if i > 0 {
		if err := chain.VerifyCommit(suite, hs.vals, &got.Header, &got.Commit); err != nil {
			tb.Fatalf("block %d certificate: %v", i, err)
		}
	}
	rcs, err := l.Receipts(i)
	if err != nil {
		tb.Fatalf("receipts %d: %v", i, err)
	}
	if len(rcs) != len(hs.rcs[i]) {
		tb.Fatalf("block %d: %d receipts, want %d", i, len(rcs), len(hs.rcs[i]))
	}
	for j := range rcs {
		if !bytes.Equal(rcs[j].Encode(), hs.rcs[i][j].Encode()) {
			tb.Fatalf("block %d receipt %d differs", i, j)
		}
	}
	if i > 0 && chain.ReceiptsRoot(suite, rcs) != got.Header.ReceiptsRoot {
		tb.Fatalf("block %d: stored receipts do not match the header's root", i)
	}
	for j, tx := range got.Txs {
		hh, idx, err := l.TxLocation(tx.ID(suite))
		if err != nil || hh != i || idx != j {
			tb.Fatalf("tx %d of block %d located at %d/%d, %v", j, i, hh, idx, err)
		}
	}
}

// checkState compares every key hs ever wrote with the state as of h: the
// latest values, proofs against the head header's state root, and the root
// recomputed from the model.
func checkState(tb testing.TB, l *ledger.Ledger, hs *history, h uint64) {
	tb.Helper()
	st := hs.states[h]
	hdr := hs.blocks[h].Header
	if h > 0 {
		if got := st.root(tb); got != hdr.StateRoot {
			tb.Fatalf("state root recomputed from the model %s, header %s", got, hdr.StateRoot)
		}
	}
	for _, k := range hs.sortedKeys() {
		got, err := l.Get([]byte(k))
		if err != nil {
			tb.Fatalf("get %q: %v", k, err)
		}
		want, present := st[k]
		if !bytes.Equal(got, want) || (got == nil) == present {
			tb.Fatalf("state %q at height %d: %s, want %s", k, h, short(got), short(want))
		}
		checkProof(tb, l, []byte(k), h, want)
	}
}

// checkProof proves key at height h and verifies the proof against that
// header's state root: want is the value (nil for absence).
func checkProof(tb testing.TB, l *ledger.Ledger, key []byte, h uint64, want []byte) *ledger.StateProof {
	tb.Helper()
	sp, err := l.ProveState(key, h)
	if err != nil {
		tb.Fatalf("prove %q at %d: %v", key, h, err)
	}
	if sp.Header.Height != h {
		tb.Fatalf("proof at %d came with header %d", h, sp.Header.Height)
	}
	var vh *crypto.Hash
	if want != nil {
		x := suite.Hash(want)
		vh = &x
	}
	if (sp.ValueHash == nil) != (vh == nil) || (vh != nil && *sp.ValueHash != *vh) {
		tb.Fatalf("proof of %q at %d: value hash %v, want %v", key, h, sp.ValueHash, vh)
	}
	if err := smt.Verify(suite, sp.Header.StateRoot, chain.StateKeyHash(suite, key), vh, sp.Proof); err != nil {
		tb.Fatalf("proof of %q at %d does not verify: %v", key, h, err)
	}
	return sp
}

// nonceOf reads a sender's next nonce from committed state.
func nonceOf(tb testing.TB, st exec.State, k crypto.PrivateKey) uint64 {
	tb.Helper()
	v, err := st.Get(exec.NonceKey(chain.AddressOf(suite, k.Public().Bytes())))
	if err != nil {
		tb.Fatal(err)
	}
	n, err := exec.DecodeNonce(v)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// short quotes at most 60 bytes of v, for failure messages.
func short(v []byte) string {
	if v == nil {
		return "absent"
	}
	if len(v) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", v[:60], len(v))
	}
	return fmt.Sprintf("%q", v)
}
