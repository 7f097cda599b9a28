package blockstm

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/domains/records"
	"github.com/polityledger/polity/domains/transfer"
)

const testChainID = "stm-test"

var suite = ed25519sha256.New()

// mapState is committed state as a map. Keys in bad fail to read.
type mapState struct {
	m   map[string][]byte
	bad map[string]bool
}

func (s *mapState) Get(k []byte) ([]byte, error) {
	if s.bad[string(k)] {
		return nil, fmt.Errorf("state: cannot read %x", k)
	}
	return s.m[string(k)], nil
}

// --- the test module --------------------------------------------------------

// tm runs a little program from its arguments. Everything it does depends
// on the values it reads (folded into acc), so a wrong read shows up in the
// writes, events, work or error. Counters c0..c3 always sum to total in any
// serially reachable state; "check" misbehaves (panics, burns work) when it
// sees another sum, which only a speculative inconsistent read can cause.
type tm struct{ total uint64 }

const (
	opRead    = 'r' // key(2): acc = H(acc, key, value)
	opWrite   = 'w' // key(2) len(1): set key to len bytes from acc
	opDelete  = 'x' // key(2)
	opEmit    = 'e' // n(1): an event with n attributes
	opFailIf  = 'f' // m(1): fail if acc[0]%m == 0
	opPanicIf = 'p' // m(1): panic if acc[0]%m == 0
	opCharge  = 'c' // n(1): charge n*1000
	opBurn    = 'o' // run out of work
	opMove    = 't' // a(1) b(1): move one unit from counter a to b
	opCheck   = 'i' // check the counter invariant
)

func (m tm) Name() string { return "tm" }

func (m tm) Methods() []module.Method {
	return []module.Method{{Name: "run", Handler: m.run}}
}

func tkey(k uint16) []byte { return []byte("k" + strconv.Itoa(int(k))) }
func ckey(c byte) []byte   { return []byte{'c', '0' + c%4} }

func expand(acc crypto.Hash, n int) []byte {
	out := make([]byte, 0, n)
	for i := byte(0); len(out) < n; i++ {
		h := suite.Hash(acc[:], []byte{i})
		out = append(out, h[:]...)
	}
	return out[:n]
}

func readCounter(ctx *module.Context, c byte) (uint64, error) {
	v, err := ctx.Get(ckey(c))
	if err != nil || v == nil {
		return 0, err
	}
	return strconv.ParseUint(string(v), 10, 64)
}

func (m tm) run(ctx *module.Context, args []byte) error {
	var acc crypto.Hash
	for len(args) > 0 {
		op := args[0]
		args = args[1:]
		arg := func(n int) []byte {
			if len(args) < n {
				panic("tm: truncated program") // a deterministic panic
			}
			a := args[:n]
			args = args[n:]
			return a
		}
		switch op {
		case opRead:
			k := tkey(binary.BigEndian.Uint16(arg(2)))
			v, err := ctx.Get(k)
			if err != nil {
				return err
			}
			if v == nil {
				acc = suite.Hash(acc[:], k, []byte("absent"))
			} else {
				acc = suite.Hash(acc[:], k, []byte{byte(len(v))}, v)
			}
		case opWrite:
			k := tkey(binary.BigEndian.Uint16(arg(2)))
			if err := ctx.Set(k, expand(acc, int(arg(1)[0]))); err != nil {
				return err
			}
			acc = suite.Hash(acc[:], []byte("w"))
		case opDelete:
			if err := ctx.Delete(tkey(binary.BigEndian.Uint16(arg(2)))); err != nil {
				return err
			}
		case opEmit:
			n := int(arg(1)[0])
			attrs := make([]string, 0, 2*n)
			for i := range n {
				attrs = append(attrs, "a"+strconv.Itoa(i), hex.EncodeToString(acc[:1+i%8])+"\x07é")
			}
			if err := ctx.Emit("ev"+hex.EncodeToString(acc[:2]), attrs...); err != nil {
				return err
			}
		case opFailIf:
			if d := arg(1)[0]; d != 0 && acc[0]%d == 0 {
				// Control characters, invalid UTF-8 and, at times, a
				// text longer than a receipt allows.
				return fmt.Errorf("tm: refused %x\x00\xff%s", acc[:4], strings.Repeat("é", int(acc[1])*2))
			}
		case opPanicIf:
			if d := arg(1)[0]; d != 0 && acc[0]%d == 0 {
				switch acc[2] % 3 {
				case 0:
					panic("tm: boom " + hex.EncodeToString(acc[:3]))
				case 1:
					panic(fmt.Errorf("tm: error value %d", acc[3]))
				default:
					var s []int
					_ = s[acc[3]] // a runtime error
				}
			}
		case opCharge:
			if err := ctx.Charge(uint64(arg(1)[0]) * 1000); err != nil {
				return err
			}
		case opBurn:
			for {
				if err := ctx.Charge(100_000); err != nil {
					return err
				}
			}
		case opMove:
			ab := arg(2)
			a, b := ab[0]%4, ab[1]%4
			if a == b {
				continue
			}
			va, err := readCounter(ctx, a)
			if err != nil {
				return err
			}
			vb, err := readCounter(ctx, b)
			if err != nil {
				return err
			}
			if va == 0 {
				continue
			}
			if err := ctx.Set(ckey(a), []byte(strconv.FormatUint(va-1, 10))); err != nil {
				return err
			}
			if err := ctx.Set(ckey(b), []byte(strconv.FormatUint(vb+1, 10))); err != nil {
				return err
			}
		case opCheck:
			var sum uint64
			for c := range byte(4) {
				v, err := readCounter(ctx, c)
				if err != nil {
					return err
				}
				sum += v
			}
			if sum != m.total {
				// Only reachable from an inconsistent (speculative) view.
				if sum%2 == 0 {
					_ = make([]byte, int(m.total)-int(sum)-1<<62) // panics
				}
				for {
					if err := ctx.Charge(1000); err != nil {
						return err
					}
				}
			}
			acc = suite.Hash(acc[:], []byte(strconv.FormatUint(sum, 10)))
		default:
			panic(fmt.Sprintf("tm: bad op %q", op))
		}
	}
	return nil
}

// --- random blocks ----------------------------------------------------------

type genParams struct {
	n          int     // transactions
	space      int     // key space size
	senders    int     // distinct senders
	invalid    float64 // probability a transaction is made invalid
	workLimit  uint64
	poisonKeys bool
}

type block struct {
	b     module.Block
	txs   []*chain.Tx
	st    *mapState
	cfg   exec.Config
	label string
}

func randomParams(rng *rand.Rand) genParams {
	p := genParams{
		n:       rng.IntN(120),
		space:   []int{1, 2, 4, 16, 200, 100000}[rng.IntN(6)],
		senders: []int{1, 2, 5, 20, 500}[rng.IntN(5)],
	}
	if rng.IntN(2) == 0 {
		p.invalid = []float64{0.01, 0.05, 0.3}[rng.IntN(3)]
	}
	if rng.IntN(4) == 0 {
		p.workLimit = 3000 + rng.Uint64N(20000)
	}
	p.poisonKeys = rng.IntN(4) == 0
	return p
}

func genBlock(rng *rand.Rand, p genParams) *block {
	bk := &block{
		b:  module.Block{ChainID: testChainID, Height: 100 + rng.Uint64N(10), Time: rng.Uint64()},
		st: &mapState{m: map[string][]byte{}, bad: map[string]bool{}},
	}
	// Counters summing to total.
	var total uint64
	for c := range byte(4) {
		v := rng.Uint64N(5)
		total += v
		bk.st.m[string(module.StateKey("tm", ckey(c)))] = []byte(strconv.FormatUint(v, 10))
	}
	reg, err := module.NewRegistry(tm{total: total})
	if err != nil {
		panic(err)
	}
	bk.cfg = exec.Config{Suite: suite, Registry: reg, TxWorkLimit: p.workLimit}
	// Some committed keys.
	for range min(p.space, 50) {
		k := uint16(rng.IntN(p.space))
		bk.st.m[string(module.StateKey("tm", tkey(k)))] = expand(suite.Hash([]byte{byte(k)}), rng.IntN(40))
	}
	if p.poisonKeys {
		bk.st.bad[string(module.StateKey("tm", tkey(uint16(rng.IntN(p.space)))))] = true
	}
	// Senders, some with committed nonces; with invalid transactions, one
	// with a corrupt nonce and one whose nonce cannot be read.
	type sender struct {
		pub   []byte
		nonce uint64
	}
	senders := make([]*sender, p.senders)
	for i := range senders {
		pub := make([]byte, 32)
		for j := range pub {
			pub[j] = byte(rng.Uint32())
		}
		s := &sender{pub: pub}
		if rng.IntN(3) == 0 {
			s.nonce = rng.Uint64N(300)
			bk.st.m[string(exec.NonceKey(chain.AddressOf(suite, pub)))] = binary.AppendUvarint(nil, s.nonce)
		}
		senders[i] = s
	}
	var corrupt, unreadable []byte
	if p.invalid > 0 {
		corrupt, unreadable = []byte("corrupt-key"), []byte("unreadable-key")
		bk.st.m[string(exec.NonceKey(chain.AddressOf(suite, corrupt)))] = []byte{0xff, 0xff}
		bk.st.bad[string(exec.NonceKey(chain.AddressOf(suite, unreadable)))] = true
	}
	key := func() []byte { return binary.BigEndian.AppendUint16(nil, uint16(rng.IntN(p.space))) }
	for range p.n {
		var prog []byte
		for range 1 + rng.IntN(7) {
			switch x := rng.IntN(100); {
			case x < 30:
				prog = append(append(prog, opRead), key()...)
			case x < 50:
				prog = append(append(prog, opWrite), key()...)
				prog = append(prog, byte([]int{0, 1, 32, 250}[rng.IntN(4)]))
			case x < 55:
				prog = append(append(prog, opDelete), key()...)
			case x < 63:
				prog = append(prog, opEmit, byte(rng.IntN(4)))
			case x < 68:
				prog = append(prog, opFailIf, byte(1+rng.IntN(6)))
			case x < 72:
				prog = append(prog, opPanicIf, byte(1+rng.IntN(8)))
			case x < 77:
				prog = append(prog, opCharge, byte(rng.IntN(20)))
			case x < 78:
				prog = append(prog, opBurn)
			case x < 90:
				prog = append(prog, opMove, byte(rng.IntN(4)), byte(rng.IntN(4)))
			default:
				prog = append(prog, opCheck)
			}
		}
		tx := &chain.Tx{ChainID: testChainID, Module: "tm", Method: "run", Args: prog, Sig: []byte{1}}
		switch rng.IntN(60) {
		case 0:
			tx.Module = "nosuch"
		case 1:
			tx.Method = "nosuch"
		case 2:
			tx.Args = append(tx.Args, opWrite) // truncated: panics
		}
		if rng.IntN(5) == 0 {
			tx.Expiry = bk.b.Height + rng.Uint64N(3)
		}
		s := senders[rng.IntN(len(senders))]
		tx.PubKey, tx.Nonce = s.pub, s.nonce
		if rng.Float64() < p.invalid {
			switch rng.IntN(6) {
			case 0:
				tx.ChainID = "other-chain"
			case 1:
				tx.Expiry = bk.b.Height - 1 - rng.Uint64N(3)
			case 2:
				tx.Nonce++
			case 3:
				tx.Nonce-- // wraps at 0: still wrong
			case 4:
				tx.PubKey = corrupt
			default:
				tx.PubKey = unreadable
			}
		} else {
			s.nonce++
		}
		tx.Sender = chain.KeyDID(suite, tx.PubKey)
		bk.txs = append(bk.txs, tx)
	}
	return bk
}

// baseSeed is the first seed of a randomized test: $BLOCKSTM_SEED, to
// reproduce a failure (whose message names its seed), or else the time.
func baseSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BLOCKSTM_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("BLOCKSTM_SEED: %v", err)
		}
	}
	t.Logf("base seed %d (set BLOCKSTM_SEED to repeat)", seed)
	return seed
}

// eachSeed calls fn for full consecutive seeds from baseSeed (short of them
// under -short or the race detector), each with its own generator on the
// given stream.
func eachSeed(t *testing.T, full, short int, stream uint64, fn func(i int, seed uint64, rng *rand.Rand)) {
	seeds := full
	if testing.Short() || raceEnabled {
		seeds = short
	}
	base := baseSeed(t)
	for i := range seeds {
		seed := base + uint64(i)
		fn(i, seed, rand.New(rand.NewPCG(seed, stream)))
	}
}

// --- comparison -------------------------------------------------------------

var sentinels = []error{exec.ErrInvalidBlock, exec.ErrBadNonce, exec.ErrExpired, exec.ErrWrongChain}

func sameErr(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	if a == nil {
		return true
	}
	if a.Error() != b.Error() {
		return false
	}
	for _, s := range sentinels {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}

// diff describes how got differs from want, or returns "".
func diff(want *exec.Result, wantErr error, got *exec.Result, gotErr error) string {
	if !sameErr(wantErr, gotErr) {
		return fmt.Sprintf("error: want %v, got %v", wantErr, gotErr)
	}
	if wantErr != nil {
		if got != nil {
			return "result returned with an error"
		}
		return ""
	}
	if len(want.Txs) != len(got.Txs) || len(want.Receipts) != len(got.Receipts) {
		return fmt.Sprintf("%d/%d txs/receipts, want %d/%d", len(got.Txs), len(got.Receipts), len(want.Txs), len(want.Receipts))
	}
	if (want.Txs == nil) != (got.Txs == nil) || (want.Receipts == nil) != (got.Receipts == nil) {
		return "nil-ness of Txs/Receipts differs"
	}
	for i := range want.Txs {
		if want.Txs[i] != got.Txs[i] {
			return fmt.Sprintf("tx %d differs", i)
		}
		if !reflect.DeepEqual(want.Receipts[i], got.Receipts[i]) || !bytes.Equal(want.Receipts[i].Encode(), got.Receipts[i].Encode()) {
			return fmt.Sprintf("receipt %d:\nwant %+v\ngot  %+v", i, want.Receipts[i], got.Receipts[i])
		}
	}
	if !reflect.DeepEqual(want.Writes, got.Writes) {
		for i := range min(len(want.Writes), len(got.Writes)) {
			if !reflect.DeepEqual(want.Writes[i], got.Writes[i]) {
				return fmt.Sprintf("write %d: want %q=%x, got %q=%x", i, want.Writes[i].Key, want.Writes[i].Value, got.Writes[i].Key, got.Writes[i].Value)
			}
		}
		return fmt.Sprintf("%d writes, want %d", len(got.Writes), len(want.Writes))
	}
	if len(want.Dropped) != len(got.Dropped) || (want.Dropped == nil) != (got.Dropped == nil) {
		return fmt.Sprintf("%d dropped, want %d", len(got.Dropped), len(want.Dropped))
	}
	for i := range want.Dropped {
		if want.Dropped[i].Tx != got.Dropped[i].Tx || !sameErr(want.Dropped[i].Err, got.Dropped[i].Err) {
			return fmt.Sprintf("dropped %d: want %v, got %v", i, want.Dropped[i].Err, got.Dropped[i].Err)
		}
	}
	return ""
}

// variant is one way of running the parallel executor.
type variant struct {
	workers   int
	adaptive  bool
	haltAfter int64
}

func (v variant) String() string {
	return fmt.Sprintf("workers=%d adaptive=%v haltAfter=%d", v.workers, v.adaptive, v.haltAfter)
}

// newTestExecutor makes every block run Block-STM with v.workers real
// goroutines, whatever GOMAXPROCS is, even with one worker.
func newTestExecutor(cfg exec.Config, v variant, st *stats) *Executor {
	e := New(cfg, v.workers)
	e.capWorkers = false
	e.oneWorker = true
	e.minPerWork = 0
	e.adaptive = v.adaptive
	e.haltAfter = v.haltAfter
	e.onBlockDone = func(s stats) { *st = s }
	return e
}

// checkBlock runs bk serially and in parallel in both modes under each
// variant, reporting any difference with the seed.
func checkBlock(t *testing.T, seed uint64, bk *block, variants []variant) {
	t.Helper()
	serial := exec.NewSerial(bk.cfg)
	for _, mode := range []exec.Mode{exec.Verify, exec.Build} {
		want, wantErr := serial.Execute(bk.b, bk.txs, bk.st, mode)
		for _, v := range variants {
			var st stats
			e := newTestExecutor(bk.cfg, v, &st)
			got, gotErr := e.Execute(bk.b, bk.txs, bk.st, mode)
			if d := diff(want, wantErr, got, gotErr); d != "" {
				t.Fatalf("seed %d (%s) mode %d %v: %s", seed, bk.label, mode, v, d)
			}
			if v.haltAfter == 0 && !st.halted && st.tailRuns != 0 {
				t.Fatalf("seed %d (%s) mode %d %v: completed parallel run left %d transactions for the serial tail",
					seed, bk.label, mode, v, st.tailRuns)
			}
		}
	}
}

func TestMatchesSerialRandom(t *testing.T) {
	var halted, wasted, incarnations, seeds int64
	eachSeed(t, 2000, 150, 0, func(i int, seed uint64, rng *rand.Rand) {
		p := randomParams(rng)
		bk := genBlock(rng, p)
		bk.label = fmt.Sprintf("%+v", p)
		var variants []variant
		for _, w := range []int{1, 2, 3, 4, 8} {
			variants = append(variants, variant{workers: w, adaptive: rng.IntN(2) == 0})
		}
		variants = append(variants, variant{workers: 1 + rng.IntN(8), haltAfter: 1 + rng.Int64N(int64(p.n)+1)})
		checkBlock(t, seed, bk, variants)
		var st stats
		e := newTestExecutor(bk.cfg, variant{workers: 4}, &st)
		if _, err := e.Execute(bk.b, bk.txs, bk.st, exec.Build); err == nil {
			incarnations += st.incarnations
			wasted += st.wasted
			if st.halted {
				halted++
			}
		}
		seeds++
	})
	t.Logf("4 workers, build mode: %d incarnations, %d wasted, %d/%d halted", incarnations, wasted, halted, seeds)
}

// TestMatchesSerialLarge runs fewer, larger blocks with low to moderate
// conflict, where the parallel phase does most of the work.
func TestMatchesSerialLarge(t *testing.T) {
	eachSeed(t, 24, 6, 1, func(i int, seed uint64, rng *rand.Rand) {
		p := genParams{n: 300 + rng.IntN(500), space: []int{50, 1000, 100000}[rng.IntN(3)], senders: 200}
		if i%2 == 1 {
			p.invalid = 0.02
		}
		bk := genBlock(rng, p)
		bk.label = fmt.Sprintf("%+v", p)
		checkBlock(t, seed, bk, []variant{{workers: 2, adaptive: true}, {workers: 4}, {workers: 8}})
	})
}

// TestCorners covers empty blocks, a first transaction invalid, every
// transaction invalid, and a single sender's nonce chain.
func TestCorners(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := []variant{{workers: 2}, {workers: 3, adaptive: true}, {workers: 8},
		{workers: 1, haltAfter: 5}, {workers: 2, haltAfter: 10}, {workers: 4, haltAfter: 30}}
	empty := genBlock(rng, genParams{n: 0, space: 4, senders: 1})
	empty.label = "empty"
	checkBlock(t, 0, empty, all)

	bk := genBlock(rng, genParams{n: 50, space: 4, senders: 1})
	bk.label = "one sender"
	checkBlock(t, 0, bk, all)
	bk.txs[0].ChainID = "elsewhere"
	bk.label = "first wrong chain"
	checkBlock(t, 0, bk, all)
	bk.txs[0].ChainID = testChainID
	bk.txs[0].Nonce++
	bk.label = "first bad nonce"
	checkBlock(t, 0, bk, all)
	bk.txs[25].Expiry = 1
	bk.label = "expired in the middle"
	checkBlock(t, 0, bk, all)
	for _, tx := range bk.txs {
		tx.Nonce = 1 << 40
	}
	bk.label = "all invalid"
	checkBlock(t, 0, bk, all)

	// A halted run must finish the block serially even when verification
	// needs no write set (a statically invalid transaction at the end).
	bk = genBlock(rng, genParams{n: 60, space: 4, senders: 1})
	bk.txs[30].Nonce++
	bk.txs[59].ChainID = "elsewhere"
	bk.label = "halted, bad nonce, then wrong chain"
	checkBlock(t, 0, bk, all)
}

// --- the records module -----------------------------------------------------

func TestRecordsModule(t *testing.T) {
	reg, err := module.NewRegistry(records.Module{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := exec.Config{Suite: suite, Registry: reg}
	var users []crypto.PrivateKey
	for i := range 6 {
		k, err := suite.GenerateKey(rand.NewChaCha8([32]byte{byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, k)
	}
	eachSeed(t, 60, 15, 3, func(i int, seed uint64, rng *rand.Rand) {
		bk := &block{
			b:     module.Block{ChainID: testChainID, Height: 7, Time: 1_700_000_000_000},
			st:    &mapState{m: map[string][]byte{}},
			cfg:   cfg,
			label: "records",
		}
		ids := 1 + rng.IntN(40)
		// Some committed records, owned by random users.
		for j := range ids / 2 {
			owner := chain.AddressOf(suite, users[rng.IntN(len(users))].Public().Bytes())
			rec, _ := json.Marshal(records.Record{Owner: owner.String(), Data: "old", Height: 3})
			bk.st.m[string(records.StateKey(fmt.Sprint("id", j)))] = rec
		}
		nonces := make([]uint64, len(users))
		for range 20 + rng.IntN(200) {
			u := rng.IntN(len(users))
			id := fmt.Sprint("id", rng.IntN(ids))
			var tx *chain.Tx
			switch x := rng.IntN(10); {
			case x < 6:
				args, _ := json.Marshal(records.PutArgs{ID: id, Data: strings.Repeat("d", rng.IntN(300))})
				tx = &chain.Tx{Method: "put", Args: args}
			case x < 9:
				args, _ := json.Marshal(records.DeleteArgs{ID: id})
				tx = &chain.Tx{Method: "delete", Args: args}
			default:
				tx = &chain.Tx{Method: "put", Args: []byte(`{"id":`)}
			}
			tx.ChainID, tx.Module, tx.Nonce = testChainID, records.Name, nonces[u]
			if rng.IntN(30) == 0 {
				tx.Nonce += 5 // invalid
			} else {
				nonces[u]++
			}
			if err := tx.Sign(suite, users[u]); err != nil {
				t.Fatal(err)
			}
			bk.txs = append(bk.txs, tx)
		}
		checkBlock(t, seed, bk, []variant{{workers: 2, adaptive: true}, {workers: 3}, {workers: 4, adaptive: true}, {workers: 8}})
	})
}

// TestTransferModule: random blocks of transfer.send (and refused mints)
// between a few accounts, many of them conflicting, some overdrawing,
// some with bad nonces.
func TestTransferModule(t *testing.T) {
	reg, err := module.NewRegistry(transfer.Module{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := exec.Config{Suite: suite, Registry: reg}
	eachSeed(t, 100, 20, 4, func(i int, seed uint64, rng *rand.Rand) {
		users := 2 + rng.IntN(30)
		pubs := make([][]byte, users)
		bk := &block{
			b:     module.Block{ChainID: testChainID, Height: 9, Time: 1_700_000_000_000},
			st:    &mapState{m: map[string][]byte{}},
			cfg:   cfg,
			label: fmt.Sprintf("transfer, %d users", users),
		}
		for u := range pubs {
			pubs[u] = binary.BigEndian.AppendUint64(make([]byte, 24), uint64(u))
			if rng.IntN(4) > 0 {
				bk.st.m[string(transfer.StateKey(chain.AddressOf(suite, pubs[u])))] = binary.BigEndian.AppendUint64(nil, rng.Uint64N(100))
			}
		}
		nonces := make([]uint64, users)
		for range rng.IntN(300) {
			u := rng.IntN(users)
			to := chain.AddressOf(suite, pubs[rng.IntN(users)]).String()
			tx := &chain.Tx{ChainID: testChainID, Module: transfer.Name, Method: "send", Nonce: nonces[u],
				PubKey: pubs[u], Sender: chain.KeyDID(suite, pubs[u]), Sig: make([]byte, 64)}
			if rng.IntN(20) == 0 {
				tx.Method = "mint"
			}
			tx.Args, _ = json.Marshal(transfer.SendArgs{To: to, Amount: rng.Uint64N(40)})
			if rng.IntN(40) == 0 {
				tx.Nonce += 3 // invalid
			} else {
				nonces[u]++
			}
			bk.txs = append(bk.txs, tx)
		}
		checkBlock(t, seed, bk, []variant{{workers: 2, adaptive: true}, {workers: 3}, {workers: 8, adaptive: true}})
	})
}

// --- executor behaviour -----------------------------------------------------

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 20 {
		bk := genBlock(rng, genParams{n: 100, space: 1 + i*10, senders: 50, invalid: 0.05})
		var st stats
		e := newTestExecutor(bk.cfg, variant{workers: 8, adaptive: i%2 == 0, haltAfter: int64(i * 5)}, &st)
		for _, mode := range []exec.Mode{exec.Verify, exec.Build} {
			_, _ = e.Execute(bk.b, bk.txs, bk.st, mode)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines before, %d after", before, n)
	}
}

// TestConcurrentExecute runs blocks on one executor from several goroutines.
func TestConcurrentExecute(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	bk := genBlock(rng, genParams{n: 80, space: 30, senders: 10})
	want, wantErr := exec.NewSerial(bk.cfg).Execute(bk.b, bk.txs, bk.st, exec.Build)
	e := New(bk.cfg, 4)
	e.capWorkers, e.minPerWork = false, 0
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			got, gotErr := e.Execute(bk.b, bk.txs, bk.st, exec.Build)
			if d := diff(want, wantErr, got, gotErr); d != "" {
				errs <- d
			}
		})
	}
	wg.Wait()
	close(errs)
	for d := range errs {
		t.Fatal(d)
	}
}

// TestSerialFallbacks checks the paths that hand a block to exec.Serial.
func TestSerialFallbacks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	bk := genBlock(rng, genParams{n: 7, space: 3, senders: 2, invalid: 0.2})
	serial := exec.NewSerial(bk.cfg)
	for _, e := range []*Executor{New(bk.cfg, 0), New(bk.cfg, 1), New(bk.cfg, 8)} {
		for _, mode := range []exec.Mode{exec.Verify, exec.Build} {
			want, wantErr := serial.Execute(bk.b, bk.txs, bk.st, mode)
			got, gotErr := e.Execute(bk.b, bk.txs, bk.st, mode)
			if d := diff(want, wantErr, got, gotErr); d != "" {
				t.Fatalf("workers %d mode %d: %s", e.workers, mode, d)
			}
		}
	}
}

// TestSkipPolicy: after a block halts on heavy conflict the next 1, then
// 2, 4, ... maxSkip blocks skip Block-STM; a block completed in parallel
// starts over.
func TestSkipPolicy(t *testing.T) {
	e := New(exec.Config{}, 2)
	skipped := func() int {
		n := 0
		for e.skipBlock() {
			n++
		}
		return n
	}
	for _, want := range []int{1, 2, 4, 8, 16, 16} {
		e.learn(stats{halted: true, conflicted: true})
		if got := skipped(); got != want {
			t.Fatalf("after a halt: %d blocks skipped, want %d", got, want)
		}
	}
	e.learn(stats{halted: true}) // halted, but not on conflict
	e.learn(stats{conflicted: true, halted: true})
	if got := skipped(); got != 1 {
		t.Fatalf("after a completed block and a halt: %d skipped, want 1", got)
	}
}

// TestSkipAfterConflict runs a block where every transaction depends on
// the previous one many times on one executor: results match, and blocks
// after a halt go straight to the serial executor.
func TestSkipAfterConflict(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	hot := genBlock(rng, genParams{n: 200, space: 1, senders: 1})
	e := New(hot.cfg, 2)
	e.capWorkers, e.minSample, e.wastedPct = false, 8, 1
	parallelRuns, halts := 0, 0
	e.onBlockDone = func(s stats) {
		parallelRuns++
		if s.conflicted {
			halts++
		}
	}
	want, wantErr := exec.NewSerial(hot.cfg).Execute(hot.b, hot.txs, hot.st, exec.Verify)
	const blocks = 40
	for i := range blocks {
		got, gotErr := e.Execute(hot.b, hot.txs, hot.st, exec.Verify)
		if d := diff(want, wantErr, got, gotErr); d != "" {
			t.Fatalf("block %d: %s", i, d)
		}
	}
	if halts > 0 && parallelRuns == blocks {
		t.Fatalf("%d halts, yet every block ran Block-STM", halts)
	}
	t.Logf("%d of %d blocks ran Block-STM, %d halted", parallelRuns, blocks, halts)
}
