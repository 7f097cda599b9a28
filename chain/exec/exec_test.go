package exec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/domains/records"
)

const chainID = "exec-test"

var suite = ed25519sha256.New()

// mapState is committed state as a map; the executor must never write it.
type mapState map[string][]byte

func (m mapState) Get(k []byte) ([]byte, error) { return m[string(k)], nil }

// probe is a test module. Arguments are "key=value" or "key".
type probe struct{}

func (probe) Name() string { return "probe" }

func (probe) Methods() []module.Method {
	set := func(ctx *module.Context, args []byte) error {
		k, v, _ := bytes.Cut(args, []byte("="))
		if err := ctx.Set(k, v); err != nil {
			return err
		}
		return ctx.Emit("set", "key", string(k))
	}
	return []module.Method{
		{Name: "set", Handler: set},
		{Name: "del", Handler: func(ctx *module.Context, args []byte) error { return ctx.Delete(args) }},
		{Name: "copy", Handler: func(ctx *module.Context, args []byte) error {
			// copy "src=dst": dst takes src's value, which must exist.
			src, dst, _ := bytes.Cut(args, []byte("="))
			v, err := ctx.Get(src)
			if err != nil {
				return err
			}
			if v == nil {
				return fmt.Errorf("%s is absent", src)
			}
			return ctx.Set(dst, v)
		}},
		{Name: "setfail", Handler: func(ctx *module.Context, args []byte) error {
			if err := set(ctx, args); err != nil {
				return err
			}
			return errors.New("refused after writing")
		}},
		{Name: "setpanic", Handler: func(ctx *module.Context, args []byte) error {
			if err := set(ctx, args); err != nil {
				return err
			}
			panic("boom")
		}},
		{Name: "setburn", Handler: func(ctx *module.Context, args []byte) error {
			if err := set(ctx, args); err != nil {
				return err
			}
			for {
				if err := ctx.Charge(1000); err != nil {
					return err
				}
			}
		}},
		{Name: "echoerr", Handler: func(ctx *module.Context, args []byte) error { return errors.New(string(args)) }},
	}
}

type env struct {
	t    testing.TB
	reg  *module.Registry
	exe  *exec.Serial
	keys map[string]crypto.PrivateKey
}

func newEnv(t testing.TB, workLimit uint64) *env {
	reg, err := module.NewRegistry(probe{}, records.Module{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, reg: reg, exe: exec.NewSerial(exec.Config{Suite: suite, Registry: reg, TxWorkLimit: workLimit}), keys: map[string]crypto.PrivateKey{}}
}

func (e *env) key(name string) crypto.PrivateKey {
	if k, ok := e.keys[name]; ok {
		return k
	}
	seed := suite.Hash([]byte("exec-test/" + name))
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

// tx signs a call by the named sender.
func (e *env) tx(sender string, nonce uint64, method, args string) *chain.Tx {
	return e.txFull(sender, chainID, nonce, 0, "probe", method, args)
}

func (e *env) txFull(sender, cid string, nonce, expiry uint64, mod, method, args string) *chain.Tx {
	tx := &chain.Tx{ChainID: cid, Nonce: nonce, Module: mod, Method: method, Args: []byte(args), Expiry: expiry}
	if err := tx.Sign(suite, e.key(sender)); err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func blk(h uint64) module.Block { return module.Block{ChainID: chainID, Height: h, Time: 1000 * h} }

func (e *env) run(st exec.State, mode exec.Mode, txs ...*chain.Tx) (*exec.Result, error) {
	return e.exe.Execute(blk(5), txs, st, mode)
}

func (e *env) mustRun(st exec.State, mode exec.Mode, txs ...*chain.Tx) *exec.Result {
	e.t.Helper()
	res, err := e.run(st, mode, txs...)
	if err != nil {
		e.t.Fatalf("execute: %v", err)
	}
	if len(res.Receipts) != len(res.Txs) {
		e.t.Fatalf("%d receipts for %d txs", len(res.Receipts), len(res.Txs))
	}
	for i, rc := range res.Receipts {
		if rc.TxID != res.Txs[i].ID(suite) {
			e.t.Fatalf("receipt %d is for another tx", i)
		}
		if _, err := chain.DecodeReceipt(rc.Encode()); err != nil {
			e.t.Fatalf("receipt %d does not round-trip: %v", i, err)
		}
	}
	return res
}

// writes returns the result's write set as a map (nil value: delete).
func writes(res *exec.Result) map[string][]byte {
	m := map[string][]byte{}
	for _, w := range res.Writes {
		m[string(w.Key)] = w.Value
	}
	return m
}

func nonceVal(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func probeKey(k string) string { return string(module.StateKey("probe", []byte(k))) }

func nonceKey(e *env, name string) string { return string(exec.NonceKey(e.addr(name))) }

func TestNonces(t *testing.T) {
	e := newEnv(t, 0)
	empty := mapState{}

	res := e.mustRun(empty, exec.Verify, e.tx("a", 0, "set", "x=1"), e.tx("a", 1, "set", "y=2"), e.tx("b", 0, "set", "z=3"))
	w := writes(res)
	if !bytes.Equal(w[nonceKey(e, "a")], nonceVal(2)) || !bytes.Equal(w[nonceKey(e, "b")], nonceVal(1)) {
		t.Fatalf("nonce writes: a %x, b %x", w[nonceKey(e, "a")], w[nonceKey(e, "b")])
	}
	if got, err := exec.DecodeNonce(w[nonceKey(e, "a")]); err != nil || got != 2 {
		t.Fatalf("decode nonce: %d, %v", got, err)
	}
	if n, err := exec.DecodeNonce(nil); err != nil || n != 0 {
		t.Fatalf("absent nonce: %d, %v", n, err)
	}
	if _, err := exec.DecodeNonce([]byte{0x80}); err == nil {
		t.Fatal("corrupt nonce decoded")
	}

	bad := map[string][]*chain.Tx{
		"nonce ahead":          {e.tx("a", 1, "set", "x=1")},
		"nonce repeated":       {e.tx("a", 0, "set", "x=1"), e.tx("a", 0, "set", "x=2")},
		"gap after valid":      {e.tx("a", 0, "set", "x=1"), e.tx("a", 2, "set", "x=2")},
		"other sender's nonce": {e.tx("b", 0, "set", "x=1"), e.tx("a", 1, "set", "x=2")},
	}
	for name, txs := range bad {
		res, err := e.run(empty, exec.Verify, txs...)
		if !errors.Is(err, exec.ErrInvalidBlock) || !errors.Is(err, exec.ErrBadNonce) || res != nil {
			t.Errorf("%s: verify mode returned %v, %v", name, res, err)
		}
	}

	// Committed nonces come from state.
	st := mapState{nonceKey(e, "a"): nonceVal(5)}
	e.mustRun(st, exec.Verify, e.tx("a", 5, "set", "x=1"))
	for _, n := range []uint64{0, 4, 6} {
		if _, err := e.run(st, exec.Verify, e.tx("a", n, "set", "x=1")); !errors.Is(err, exec.ErrBadNonce) {
			t.Errorf("nonce %d with committed 5: %v", n, err)
		}
	}
	if _, err := e.run(mapState{nonceKey(e, "a"): {0xff}}, exec.Verify, e.tx("a", 0, "set", "x=1")); err == nil {
		t.Error("corrupt stored nonce accepted")
	}

	// Build mode drops invalid transactions and goes on; a dropped tx does
	// not consume its nonce.
	a0, a2, b0, a1, a1dup := e.tx("a", 0, "set", "x=1"), e.tx("a", 2, "set", "x=2"), e.tx("b", 0, "set", "y=1"), e.tx("a", 1, "set", "x=3"), e.tx("a", 1, "set", "x=4")
	res = e.mustRun(empty, exec.Build, a0, a2, b0, a1, a1dup)
	if len(res.Txs) != 3 || res.Txs[0] != a0 || res.Txs[1] != b0 || res.Txs[2] != a1 {
		t.Fatalf("build mode included %d txs", len(res.Txs))
	}
	if len(res.Dropped) != 2 || res.Dropped[0].Tx != a2 || res.Dropped[1].Tx != a1dup ||
		!errors.Is(res.Dropped[0].Err, exec.ErrBadNonce) || !errors.Is(res.Dropped[1].Err, exec.ErrBadNonce) {
		t.Fatalf("dropped: %+v", res.Dropped)
	}
	w = writes(res)
	if !bytes.Equal(w[probeKey("x")], []byte("3")) || !bytes.Equal(w[nonceKey(e, "a")], nonceVal(2)) {
		t.Fatalf("build mode writes: x=%q nonce=%x", w[probeKey("x")], w[nonceKey(e, "a")])
	}
	// The same block without the dropped ones verifies, with the same result.
	again := e.mustRun(empty, exec.Verify, res.Txs...)
	if !sameResult(res, again) {
		t.Fatal("verify of a built block differs from the build")
	}
	if len(again.Dropped) != 0 {
		t.Fatal("verify mode reported dropped txs")
	}
}

func TestExpiryAndChain(t *testing.T) {
	e := newEnv(t, 0)
	// Blocks run at height 5 (see run): expiry 5 is the last valid height.
	for _, exp := range []uint64{0, 5, 6, 1 << 60} {
		e.mustRun(mapState{}, exec.Verify, e.txFull("a", chainID, 0, exp, "probe", "set", "x=1"))
	}
	invalid := []struct {
		name string
		tx   *chain.Tx
		want error
	}{
		{"expired", e.txFull("a", chainID, 0, 4, "probe", "set", "x=1"), exec.ErrExpired},
		{"expired long ago", e.txFull("a", chainID, 0, 1, "probe", "set", "x=1"), exec.ErrExpired},
		{"other chain", e.txFull("a", "other-chain", 0, 0, "probe", "set", "x=1"), exec.ErrWrongChain},
	}
	for _, c := range invalid {
		if _, err := e.run(mapState{}, exec.Verify, c.tx); !errors.Is(err, exec.ErrInvalidBlock) || !errors.Is(err, c.want) {
			t.Errorf("%s: verify: %v", c.name, err)
		}
		// In build mode it is dropped and its nonce stays free.
		next := e.tx("a", 0, "set", "y=1")
		res := e.mustRun(mapState{}, exec.Build, c.tx, next)
		if len(res.Dropped) != 1 || !errors.Is(res.Dropped[0].Err, c.want) || len(res.Txs) != 1 || res.Txs[0] != next {
			t.Errorf("%s: build: %d included, dropped %+v", c.name, len(res.Txs), res.Dropped)
		}
		if _, ok := writes(res)[probeKey("x")]; ok {
			t.Errorf("%s: dropped tx wrote state", c.name)
		}
	}
}

func TestFailuresRevertWritesButAdvanceNonce(t *testing.T) {
	const limit = 50_000
	e := newEnv(t, limit)
	base := mapState{probeKey("kept"): []byte("old")}
	cases := []struct {
		name, mod, method, args string
		wantErr                 string
	}{
		{"module error", "probe", "setfail", "kept=new", "refused after writing"},
		{"module panic", "probe", "setpanic", "kept=new", "module panic: boom"},
		{"out of work", "probe", "setburn", "kept=new", module.ErrOutOfWork.Error()},
		{"args beyond the work limit", "probe", "set", "kept=" + strings.Repeat("v", limit/module.CostTxByte), module.ErrOutOfWork.Error()},
		{"unknown module", "nosuch", "set", "kept=new", module.ErrUnknownModule.Error()},
		{"unknown method", "probe", "nosuch", "kept=new", module.ErrUnknownMethod.Error()},
		{"state limit", "probe", "set", strings.Repeat("k", module.MaxKeyLen+1) + "=v", module.ErrLimit.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failing := e.txFull("a", chainID, 0, 0, c.mod, c.method, c.args)
			after := e.tx("a", 1, "copy", "kept=seen") // sees the state the failure left
			res := e.mustRun(base, exec.Verify, failing, after)
			rc := res.Receipts[0]
			if rc.Status != chain.StatusFailed || !strings.Contains(rc.Error, c.wantErr) || rc.Events != nil {
				t.Fatalf("receipt %+v, want failed with %q", rc, c.wantErr)
			}
			if rc.WorkUsed == 0 || rc.WorkUsed > limit {
				t.Fatalf("work used %d", rc.WorkUsed)
			}
			if c.wantErr == module.ErrOutOfWork.Error() && rc.WorkUsed != limit {
				t.Fatalf("out of work used %d, want the limit %d", rc.WorkUsed, limit)
			}
			if res.Receipts[1].Status != chain.StatusOK {
				t.Fatalf("next tx: %+v", res.Receipts[1])
			}
			w := writes(res)
			if _, ok := w[probeKey("kept")]; ok {
				t.Fatal("failed tx's write survived")
			}
			if !bytes.Equal(w[probeKey("seen")], []byte("old")) {
				t.Fatalf("next tx saw %q, want the committed value", w[probeKey("seen")])
			}
			if !bytes.Equal(w[nonceKey(e, "a")], nonceVal(2)) {
				t.Fatalf("nonce %x, want 2", w[nonceKey(e, "a")])
			}
			if len(res.Writes) != 2 {
				t.Fatalf("writes: %d, want nonce and seen only", len(res.Writes))
			}
		})
	}
	if len(base) != 1 || string(base[probeKey("kept")]) != "old" {
		t.Fatal("executor modified committed state")
	}
}

func TestSuccessfulCalls(t *testing.T) {
	e := newEnv(t, 0)
	base := mapState{probeKey("gone"): []byte("x")}
	res := e.mustRun(base, exec.Verify,
		e.tx("a", 0, "set", "k=v1"),
		e.tx("b", 0, "copy", "k=k2"), // sees a's write in the same block
		e.tx("a", 1, "set", "k=v2"),  // overwritten: the last write wins
		e.tx("b", 1, "del", "gone"),
		e.tx("b", 2, "del", "never"),
	)
	for i, rc := range res.Receipts {
		if rc.Status != chain.StatusOK || rc.Error != "" || rc.WorkUsed == 0 {
			t.Fatalf("receipt %d: %+v", i, rc)
		}
	}
	if ev := res.Receipts[0].Events; len(ev) != 1 || ev[0].Type != "set" || ev[0].Attrs[0] != (chain.Attr{Key: "key", Value: "k"}) {
		t.Fatalf("events %+v", ev)
	}
	w := writes(res)
	want := map[string][]byte{
		probeKey("k"): []byte("v2"), probeKey("k2"): []byte("v1"),
		probeKey("gone"): nil, probeKey("never"): nil,
		nonceKey(e, "a"): nonceVal(2), nonceKey(e, "b"): nonceVal(3),
	}
	if len(w) != len(want) {
		t.Fatalf("%d writes, want %d", len(w), len(want))
	}
	for k, v := range want {
		got, ok := w[k]
		if !ok || !bytes.Equal(got, v) || (got == nil) != (v == nil) {
			t.Errorf("write %q = %q (present %v), want %q", k, got, ok, v)
		}
	}
	checkSorted(t, res)
}

func checkSorted(t *testing.T, res *exec.Result) {
	t.Helper()
	for i := 1; i < len(res.Writes); i++ {
		if bytes.Compare(res.Writes[i-1].Key, res.Writes[i].Key) >= 0 {
			t.Fatalf("writes not strictly sorted at %d", i)
		}
	}
}

func sameResult(a, b *exec.Result) bool {
	if len(a.Txs) != len(b.Txs) || len(a.Receipts) != len(b.Receipts) || len(a.Writes) != len(b.Writes) {
		return false
	}
	for i := range a.Txs {
		if !bytes.Equal(a.Txs[i].Encode(), b.Txs[i].Encode()) || !bytes.Equal(a.Receipts[i].Encode(), b.Receipts[i].Encode()) {
			return false
		}
	}
	for i := range a.Writes {
		x, y := a.Writes[i], b.Writes[i]
		if !bytes.Equal(x.Key, y.Key) || !bytes.Equal(x.Value, y.Value) || (x.Value == nil) != (y.Value == nil) {
			return false
		}
	}
	return true
}

// randomBlock is a block of n valid calls of every kind from a few senders,
// touching a small key space so transactions interact.
func randomBlock(e *env, rng *rand.Rand, n int) []*chain.Tx {
	nonces := map[string]uint64{}
	methods := []string{"set", "set", "set", "del", "copy", "setfail", "setpanic", "setburn", "echoerr"}
	txs := make([]*chain.Tx, n)
	for i := range txs {
		s := fmt.Sprintf("s%d", rng.IntN(8))
		m := methods[rng.IntN(len(methods))]
		k1, k2 := fmt.Sprintf("k%d", rng.IntN(16)), fmt.Sprintf("k%d", rng.IntN(16))
		args := k1 + "=" + k2
		if m == "del" {
			args = k1
		}
		if rng.IntN(20) == 0 {
			txs[i] = recordsPut(e, s, nonces[s], k1)
		} else {
			txs[i] = e.tx(s, nonces[s], m, args)
		}
		nonces[s]++
	}
	return txs
}

func recordsPut(e *env, s string, nonce uint64, id string) *chain.Tx {
	return e.txFull(s, chainID, nonce, 0, "records", "put", `{"id":"`+id+`","data":"d"}`)
}

func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	base := mapState{}
	for i := range 16 {
		if i%2 == 0 {
			base[probeKey(fmt.Sprintf("k%d", i))] = []byte(fmt.Sprintf("base%d", i))
		}
	}
	snapshot := maps.Clone(base)
	for round := range 5 {
		e := newEnv(t, 200_000)
		txs := randomBlock(e, rng, 300)
		first := e.mustRun(base, exec.Verify, txs...)
		// A fresh executor, a fresh registry, the same block: identical bytes.
		second := newEnv(t, 200_000).mustRun(base, exec.Verify, txs...)
		built := e.mustRun(base, exec.Build, txs...)
		if !sameResult(first, second) || !sameResult(first, built) {
			t.Fatalf("round %d: executions of the same block differ", round)
		}
		if len(first.Txs) != len(txs) || len(built.Dropped) != 0 {
			t.Fatalf("round %d: %d of %d txs included", round, len(first.Txs), len(txs))
		}
		checkSorted(t, first)
		if chain.ReceiptsRoot(suite, first.Receipts) != chain.ReceiptsRoot(suite, second.Receipts) {
			t.Fatal("receipts roots differ")
		}
	}
	if !maps.EqualFunc(base, snapshot, bytes.Equal) {
		t.Fatal("executor modified committed state")
	}
}

// TestReceiptErrorsDecodable: a module error may quote transaction input;
// whatever its bytes, the receipt must stay within what the codec decodes,
// or the block's stored receipts could never be read back.
func TestReceiptErrorsDecodable(t *testing.T) {
	e := newEnv(t, 0)
	long := strings.Repeat("é", chain.MaxErrorLen) // 2 bytes each: cut mid-rune at MaxErrorLen
	cases := []*chain.Tx{
		e.tx("a", 0, "echoerr", "line\nbreak\ttab\x00nul\x7fdel"),
		e.tx("a", 0, "echoerr", "bad utf-8 \xff\xfe and \ufffd replacement"),
		e.tx("a", 0, "echoerr", "c1 control \u0085 here"),
		e.tx("a", 0, "echoerr", "x"+long),
		e.tx("a", 0, "echoerr", long),
		// Through a real module: encoding/json quotes the unknown field.
		recordsPut(e, "a", 0, "ok"),
		e.txFull("a", chainID, 0, 0, "records", "put", "{\"\xff\":1}"),
		e.txFull("a", chainID, 0, 0, "records", "put", "{\"\ufffd\":1}"),
		e.txFull("a", chainID, 0, 0, "records", "put", `{"`+long+`":1}`),
	}
	for i, tx := range cases {
		res := e.mustRun(mapState{}, exec.Verify, tx) // checks the round trip
		msg := res.Receipts[0].Error
		if !utf8.ValidString(msg) || !codec.Printable(msg) || len(msg) > chain.MaxErrorLen {
			t.Errorf("case %d: receipt error %q (%d bytes)", i, msg, len(msg))
		}
		if i < 5 && res.Receipts[0].Status != chain.StatusFailed {
			t.Errorf("case %d: not failed", i)
		}
	}
	rc := e.mustRun(mapState{}, exec.Verify, e.tx("a", 0, "echoerr", "plain message")).Receipts[0]
	if rc.Error != "plain message" {
		t.Fatalf("printable error altered: %q", rc.Error)
	}
	rc = e.mustRun(mapState{}, exec.Verify, e.tx("a", 0, "echoerr", "a\nb")).Receipts[0]
	if rc.Error != "a?b" {
		t.Fatalf("control character: %q", rc.Error)
	}
}

func BenchmarkSerialExecute(b *testing.B) {
	const n, senders = 1000, 100
	e := newEnv(b, 0)
	txs := make([]*chain.Tx, n)
	data := strings.Repeat("0123456789abcdef", 16)[:250]
	for i := range txs {
		s := fmt.Sprintf("s%d", i%senders)
		txs[i] = e.txFull(s, chainID, uint64(i/senders), 0, "records", "put", fmt.Sprintf(`{"id":"rec-%d","data":%q}`, i, data))
	}
	st := mapState{}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := e.exe.Execute(blk(1), txs, st, exec.Verify)
		if err != nil || len(res.Receipts) != n || res.Receipts[n-1].Status != chain.StatusOK {
			b.Fatalf("execute: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "txs/s")
}
