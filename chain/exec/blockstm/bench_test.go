package blockstm

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/domains/records"
	"github.com/polityledger/polity/domains/transfer"
)

// benchModule's "work" method is shaped like a contract call: it reads a
// few ~250-byte values, hashes them for a while with the suite's hash, and
// writes ~250-byte results (about 15µs a transaction on the reference
// machine, so that execution rather than scheduling dominates). Arguments:
// the hash rounds (1 byte), the number r of keys to read (1 byte), then
// keys, each as a length byte and the key: r to read, then those to write.
type benchModule struct{}

const benchValueLen = 250

func (benchModule) Name() string { return "bench" }

func (benchModule) Methods() []module.Method {
	return []module.Method{{Name: "work", Handler: benchWork}}
}

func benchWork(ctx *module.Context, args []byte) error {
	rounds, nReads := int(args[0]), int(args[1])
	args = args[2:]
	var keys [][]byte
	for len(args) > 0 {
		n := int(args[0])
		keys = append(keys, args[1:1+n])
		args = args[1+n:]
	}
	h := suite.NewHasher()
	var acc []byte
	buf := make([]byte, benchValueLen)
	for _, k := range keys[:nReads] {
		v, err := ctx.Get(k)
		if err != nil {
			return err
		}
		h.Reset()
		h.Write(acc)
		h.Write(v)
		acc = h.Sum(acc[:0])
		copy(buf, v)
	}
	for r := range rounds {
		h.Reset()
		h.Write(buf)
		h.Write(acc)
		acc = h.Sum(acc[:0])
		copy(buf[(r*len(acc))%(benchValueLen-len(acc)):], acc)
	}
	if err := ctx.Charge(uint64(rounds) * 50); err != nil {
		return err
	}
	for i, k := range keys[nReads:] {
		v := make([]byte, benchValueLen)
		copy(v, buf)
		v[0] = byte(i)
		if err := ctx.Set(k, v); err != nil {
			return err
		}
	}
	return ctx.Emit("work", "acc", hex.EncodeToString(acc[:8]))
}

const (
	benchTxs    = 1000
	benchRounds = 40 // hashes of ~280 bytes per transaction
)

// benchBlock is a block of benchTxs transactions from distinct senders. Each
// reads two keys and writes two; with probability conflict, one of the reads
// and one of the writes is a single hot key instead of a key of its own.
func benchBlock(conflict float64) (exec.Config, module.Block, []*chain.Tx, exec.State) {
	rng := rand.New(rand.NewPCG(42, uint64(conflict*1000)))
	reg, err := module.NewRegistry(benchModule{})
	if err != nil {
		panic(err)
	}
	cfg := exec.Config{Suite: suite, Registry: reg}
	st := &mapState{m: map[string][]byte{}}
	value := func() []byte {
		v := make([]byte, benchValueLen)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	hot := []byte("hot")
	st.m[string(module.StateKey("bench", hot))] = value()
	var txs []*chain.Tx
	for i := range benchTxs {
		own := func(j int) []byte { return fmt.Appendf(nil, "acct/%d/%d", i, j) }
		reads := [][]byte{own(0), own(1)}
		writes := [][]byte{own(0), own(2)}
		if rng.Float64() < conflict {
			reads[1], writes[1] = hot, hot
		}
		args := []byte{benchRounds, byte(len(reads))}
		for _, k := range append(reads, writes...) {
			args = append(append(args, byte(len(k))), k...)
		}
		for _, k := range reads {
			if string(k) != "hot" {
				st.m[string(module.StateKey("bench", k))] = value()
			}
		}
		pub := binary.BigEndian.AppendUint64(make([]byte, 24), uint64(i))
		txs = append(txs, &chain.Tx{
			ChainID: testChainID, Sender: chain.KeyDID(suite, pub), PubKey: pub,
			Module: "bench", Method: "work", Args: args, Sig: make([]byte, 64),
		})
	}
	return cfg, module.Block{ChainID: testChainID, Height: 1}, txs, st
}

var benchConflicts = []struct {
	name string
	p    float64
}{{"0", 0}, {"1pct", 0.01}, {"10pct", 0.10}, {"100pct", 1}}

func checkBench(b *testing.B, e exec.Executor, cfg exec.Config, blk module.Block, txs []*chain.Tx, st exec.State) {
	b.Helper()
	want, _ := exec.NewSerial(cfg).Execute(blk, txs, st, exec.Verify)
	got, err := e.Execute(blk, txs, st, exec.Verify)
	if err != nil {
		b.Fatal(err)
	}
	if d := diff(want, nil, got, nil); d != "" {
		b.Fatal(d)
	}
	if len(got.Receipts) != len(txs) || got.Receipts[0].Status != chain.StatusOK || got.Receipts[len(txs)-1].Status != chain.StatusOK {
		b.Fatalf("unexpected receipts: %d, %+v", len(got.Receipts), got.Receipts[0])
	}
}

// benchLoop times e on the block, reporting the parallel runs' statistics
// when e is a Block-STM executor.
func benchLoop(b *testing.B, e exec.Executor, cfg exec.Config, blk module.Block, txs []*chain.Tx, st exec.State) {
	var last stats
	stm, _ := e.(*Executor)
	if stm != nil {
		stm.onBlockDone = func(s stats) { last = s }
	}
	checkBench(b, e, cfg, blk, txs, st)
	var incs, wasted, halted, parallel int64
	b.ResetTimer()
	for b.Loop() {
		last = stats{incarnations: -1} // stays so if the block runs serially
		if _, err := e.Execute(blk, txs, st, exec.Verify); err != nil {
			b.Fatal(err)
		}
		if last.incarnations < 0 {
			continue
		}
		parallel++
		incs += last.incarnations
		wasted += last.wasted
		if last.halted {
			halted++
		}
	}
	if stm != nil {
		// Per block, serial ones included.
		b.ReportMetric(float64(parallel)/float64(b.N), "parallel")
		b.ReportMetric(float64(incs)/float64(b.N)/float64(len(txs)), "execs/tx")
		b.ReportMetric(float64(wasted)/float64(b.N)/float64(len(txs)), "wasted/tx")
		b.ReportMetric(float64(halted)/float64(b.N), "halted")
	}
}

func BenchmarkSerial(b *testing.B) {
	for _, c := range benchConflicts {
		b.Run("conflict="+c.name, func(b *testing.B) {
			cfg, blk, txs, st := benchBlock(c.p)
			benchLoop(b, exec.NewSerial(cfg), cfg, blk, txs, st)
		})
	}
}

func BenchmarkExecute(b *testing.B) {
	for _, c := range benchConflicts {
		for _, w := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("conflict=%s/workers=%d", c.name, w), func(b *testing.B) {
				cfg, blk, txs, st := benchBlock(c.p)
				benchLoop(b, New(cfg, w), cfg, blk, txs, st)
			})
		}
	}
}

// BenchmarkOneWorker runs Block-STM itself on a single worker (New sends
// such blocks to exec.Serial): its ratio to BenchmarkSerial is the cost of
// the multi-version memory, validation and scheduling without any gain.
func BenchmarkOneWorker(b *testing.B) {
	for _, c := range []string{"0", "100pct"} {
		b.Run("conflict="+c, func(b *testing.B) {
			cfg, blk, txs, st := benchBlock(map[string]float64{"0": 0, "100pct": 1}[c])
			e := New(cfg, 1)
			e.oneWorker = true
			benchLoop(b, e, cfg, blk, txs, st)
		})
	}
}

// moduleBlock is a block of benchTxs transactions of a real module, from
// distinct senders: records.put of distinct records ("records"), transfer.send
// between distinct accounts ("transfer") or all to one account
// ("transfer-hot", where every transaction conflicts with the previous one).
func moduleBlock(workload string) (exec.Config, module.Block, []*chain.Tx, exec.State) {
	reg, err := module.NewRegistry(records.Module{}, transfer.Module{})
	if err != nil {
		panic(err)
	}
	cfg := exec.Config{Suite: suite, Registry: reg}
	st := &mapState{m: map[string][]byte{}}
	data := strings.Repeat("0123456789abcdef", 16)[:250]
	hot := chain.AddressOf(suite, []byte("hot"))
	var txs []*chain.Tx
	for i := range benchTxs {
		pub := binary.BigEndian.AppendUint64(make([]byte, 24), uint64(i))
		tx := &chain.Tx{ChainID: testChainID, Sender: chain.KeyDID(suite, pub), PubKey: pub, Sig: make([]byte, 64)}
		var args any
		switch workload {
		case "records":
			tx.Module, tx.Method = records.Name, "put"
			args = records.PutArgs{ID: fmt.Sprint("rec-", i), Data: data}
		case "transfer", "transfer-hot":
			from := chain.AddressOf(suite, pub)
			st.m[string(transfer.StateKey(from))] = binary.BigEndian.AppendUint64(nil, 1000)
			to := chain.AddressOf(suite, binary.BigEndian.AppendUint64([]byte("to"), uint64(i)))
			if workload == "transfer-hot" {
				to = hot
			}
			tx.Module, tx.Method = transfer.Name, "send"
			args = transfer.SendArgs{To: to.String(), Amount: 7}
		default:
			panic("unknown workload " + workload)
		}
		if tx.Args, err = json.Marshal(args); err != nil {
			panic(err)
		}
		txs = append(txs, tx)
	}
	return cfg, module.Block{ChainID: testChainID, Height: 1, Time: 1_700_000_000_000}, txs, st
}

// BenchmarkModules compares the executors on real module calls, far
// lighter than benchModule's (a few µs each), where the executor's own
// overhead shows most.
func BenchmarkModules(b *testing.B) {
	for _, wl := range []string{"records", "transfer", "transfer-hot"} {
		for _, w := range []int{0, 2} {
			name := fmt.Sprintf("%s/workers=%d", wl, w)
			if w == 0 {
				name = wl + "/serial"
			}
			b.Run(name, func(b *testing.B) {
				cfg, blk, txs, st := moduleBlock(wl)
				var e exec.Executor = exec.NewSerial(cfg)
				if w > 0 {
					e = New(cfg, w)
				}
				benchLoop(b, e, cfg, blk, txs, st)
			})
		}
	}
}

// BenchmarkNoFallback is BenchmarkExecute without the heavy-conflict halt:
// Block-STM alone.
func BenchmarkNoFallback(b *testing.B) {
	for _, c := range benchConflicts {
		for _, w := range []int{2} {
			b.Run(fmt.Sprintf("conflict=%s/workers=%d", c.name, w), func(b *testing.B) {
				cfg, blk, txs, st := benchBlock(c.p)
				e := New(cfg, w)
				e.adaptive = false
				benchLoop(b, e, cfg, blk, txs, st)
			})
		}
	}
}

// BenchmarkIdealSplit is a ceiling, not an executor: the conflict-free block
// split between GOMAXPROCS goroutines, each applying its share on its own
// overlay, with no coordination and no write set. Its ratio to
// BenchmarkSerial/conflict=0 is the most any executor could gain here.
func BenchmarkIdealSplit(b *testing.B) {
	cfg, blk, txs, st := benchBlock(0)
	cfg.TxWorkLimit = module.DefaultTxWorkLimit
	w := runtime.GOMAXPROCS(0)
	for b.Loop() {
		var wg sync.WaitGroup
		for g := range w {
			wg.Go(func() {
				ov := exec.NewOverlay(st)
				for i := g; i < len(txs); i += w {
					if _, err := exec.ApplyTx(cfg, blk, txs[i], ov); err != nil {
						b.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkSpeedup alternates the serial executor and Block-STM on the same
// block, one block each per iteration, and reports the median of the
// per-pair ratios serial/Block-STM ("speedup") and each executor's median
// time. On a machine shared with other work the load changes over seconds,
// not over a pair of blocks, so the paired ratio is far steadier than the
// ratio of two benchmarks run one after the other.
func BenchmarkSpeedup(b *testing.B) {
	for _, l := range speedupLoads() {
		for _, w := range l.workers {
			b.Run(fmt.Sprintf("%s/workers=%d", l.name, w), func(b *testing.B) { speedup(b, w, l.block, false) })
		}
	}
}

// BenchmarkSpeedupNoGC is BenchmarkSpeedup's two-worker cases with an
// untimed collection before each half of every pair. In BenchmarkSpeedup
// the collector's work for one executor's garbage lands partly in the other's
// run, so the paired ratio moves with where cycles fall; here each half
// starts on a collected heap (a block allocates a few MB, usually too little
// to start a cycle) and the ratio is the executors' own.
func BenchmarkSpeedupNoGC(b *testing.B) {
	for _, l := range speedupLoads() {
		b.Run(l.name+"/workers=2", func(b *testing.B) { speedup(b, 2, l.block, true) })
	}
}

// speedupLoad is a block BenchmarkSpeedup runs, with its worker counts.
type speedupLoad struct {
	name    string
	workers []int
	block   func() (exec.Config, module.Block, []*chain.Tx, exec.State)
}

func speedupLoads() []speedupLoad {
	var loads []speedupLoad
	for _, c := range benchConflicts {
		loads = append(loads, speedupLoad{"conflict=" + c.name, []int{1, 2, 4, 8},
			func() (exec.Config, module.Block, []*chain.Tx, exec.State) { return benchBlock(c.p) }})
	}
	for _, wl := range []string{"records", "transfer", "transfer-hot"} {
		loads = append(loads, speedupLoad{wl, []int{2},
			func() (exec.Config, module.Block, []*chain.Tx, exec.State) { return moduleBlock(wl) }})
	}
	return loads
}

// speedup is one BenchmarkSpeedup case: Block-STM with w workers; with
// collect, an untimed runtime.GC() precedes each half of every pair.
func speedup(b *testing.B, w int, block func() (exec.Config, module.Block, []*chain.Tx, exec.State), collect bool) {
	cfg, blk, txs, st := block()
	serial, stm := exec.NewSerial(cfg), New(cfg, w)
	checkBench(b, stm, cfg, blk, txs, st)
	var ratios, ts, tp []float64
	for b.Loop() {
		if collect {
			runtime.GC()
		}
		t0 := time.Now()
		if _, err := serial.Execute(blk, txs, st, exec.Verify); err != nil {
			b.Fatal(err)
		}
		if collect {
			runtime.GC()
		}
		t1 := time.Now()
		if _, err := stm.Execute(blk, txs, st, exec.Verify); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		s, p := t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds()
		ratios, ts, tp = append(ratios, s/p), append(ts, s), append(tp, p)
	}
	b.ReportMetric(median(ratios), "speedup")
	b.ReportMetric(median(ts)*1e3, "serial-ms")
	b.ReportMetric(median(tp)*1e3, "stm-ms")
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
