package ledger_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/domains/records"
)

// crashSeed is LEDGER_CRASH_SEED if set, else a fresh seed. It is logged at
// the start and again if the test fails, to replay a failure.
func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LEDGER_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LEDGER_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with LEDGER_CRASH_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d: rerun with LEDGER_CRASH_SEED=%d go test -run %s ./chain/ledger", seed, seed, t.Name())
		}
	})
	return seed
}

var crashPercents = [...]int{0, 50, 100}

// crashPoint is a simulated crash: a copy of the filesystem as it might be
// found after power loss, and the range of heads it may legally hold.
type crashPoint struct {
	fs      *vfs.MemFS
	percent int
	lo, hi  uint64 // lo: last Commit returned before the clone; hi: last Commit begun
	during  bool   // taken while a Commit was in flight
}

// crashGen makes random blocks of record puts, overwrites, deletes and
// failing calls.
type crashGen struct {
	f     *fixture
	rng   *rand.Rand
	exist map[string]bool // records present after the blocks generated so far
}

func (g *crashGen) txs() []*chain.Tx {
	f, rng := g.f, g.rng
	n := rng.IntN(32)
	if rng.IntN(10) == 0 {
		n = 0 // empty blocks are legal in the ledger
	}
	txs := make([]*chain.Tx, 0, n)
	for range n {
		u := rng.IntN(len(f.users))
		id := fmt.Sprintf("u%d-%d", u, rng.IntN(12))
		switch r := rng.IntN(10); {
		case r < 2 && g.exist[id]:
			txs = append(txs, f.del(u, id))
			g.exist[id] = false
		case r < 3:
			// Someone else's namespace: fails if the record exists.
			txs = append(txs, f.put((u+1)%len(f.users), id, "intruder"))
			g.exist[id] = true
		default:
			raw := make([]byte, rng.IntN(8000)+1)
			for i := range raw {
				raw[i] = byte(rng.IntN(256))
			}
			txs = append(txs, f.put(u, id, hex.EncodeToString(raw)))
			g.exist[id] = true
		}
	}
	return txs
}

// TestCrashSafety commits blocks on a crashable in-memory filesystem and, at
// random points, including while a Commit is in flight, takes crash clones
// that keep 0, 50 or 100 percent of the unsynced data. Every clone must open
// at a whole block no older than the last Commit that had returned, with all
// blocks, receipts, the tx index and the state as of that block, and must
// accept a new block on top.
// crashStateHistory is small so that crashes also land in state pruning.
const crashStateHistory = 2

func TestCrashSafety(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	blocks, maxDuring := 40, 6
	if testing.Short() {
		blocks, maxDuring = 12, 3
	}
	f := newFixture(t, 4)
	fs := vfs.NewCrashableMem()
	l := f.open("ledger", ledger.Options{FS: fs, StateHistory: crashStateHistory})
	defer l.Close()
	hs := newHistory(t, l, &f.g.Validators)
	gen := &crashGen{f: f, rng: rng, exist: map[string]bool{}}

	clone := func(lo, hi uint64, during bool) crashPoint {
		p := crashPercents[rng.IntN(len(crashPercents))]
		cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: p}
		if p > 0 {
			cfg.RNG = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		}
		return crashPoint{fs: fs.CrashClone(cfg), percent: p, lo: lo, hi: hi, during: during}
	}
	stats := map[string]int{}
	check := func(cp crashPoint) {
		t.Helper()
		h := checkCrashClone(t, f, hs, cp)
		stats[fmt.Sprintf("%d%%", cp.percent)]++
		if cp.during {
			if h == cp.lo {
				stats["in flight, before"]++
			} else {
				stats["in flight, after"]++
			}
		}
	}

	for h := uint64(1); h <= uint64(blocks); h++ {
		bl := f.block(l, gen.txs())
		hs.add(bl)
		if rng.IntN(2) == 0 {
			// Crash points while the commit runs: each clone stops the
			// filesystem for an instant somewhere inside the batch write.
			done := make(chan error, 1)
			var points []crashPoint
			go func() { done <- l.Commit(bl.b, bl.su) }()
			var err error
		loop:
			for {
				select {
				case err = <-done:
					break loop
				default:
				}
				if len(points) < maxDuring {
					points = append(points, clone(h-1, h, true))
				}
				for range rng.IntN(64) {
					runtime.Gosched()
				}
			}
			if err != nil {
				t.Fatalf("commit %d: %v", h, err)
			}
			for _, cp := range points {
				check(cp)
			}
		} else {
			if rng.IntN(3) == 0 {
				check(clone(h-1, h-1, false))
			}
			if err := l.Commit(bl.b, bl.su); err != nil {
				t.Fatalf("commit %d: %v", h, err)
			}
			check(clone(h, h, false))
		}
	}
	checkLedger(t, l, hs, uint64(blocks))
	files, _ := fs.List("ledger")
	t.Logf("%d blocks, crash clones checked: %v; files at the end: %v", blocks, stats, files)
}

// checkCrashClone opens a crash clone, checks it holds a whole block in
// [lo, hi] with everything up to it, commits a block on top, and reopens it
// once more. It returns the height found.
func checkCrashClone(t *testing.T, f *fixture, hs *history, cp crashPoint) uint64 {
	t.Helper()
	where := fmt.Sprintf("clone (%d%% unsynced kept, heads %d..%d, in flight %v)", cp.percent, cp.lo, cp.hi, cp.during)
	l, err := ledger.Open("ledger", suite, ledger.Options{FS: cp.fs, StateHistory: crashStateHistory})
	if err != nil {
		t.Fatalf("%s: open: %v", where, err)
	}
	defer func() { l.Close() }()
	if err := l.Init(f.g); err != nil {
		t.Fatalf("%s: init: %v", where, err)
	}
	h := l.Height()
	if h < cp.lo || h > cp.hi {
		t.Fatalf("%s: head at %d", where, h)
	}
	checkLedger(t, l, hs, h)

	// The recovered ledger accepts a new block: a fresh sender, so its nonce
	// is 0 whatever height the clone holds.
	probe := key(t, "probe")
	tx := signTx(t, probe, nonceOf(t, l, probe), "put", records.PutArgs{ID: "probe", Data: where})
	bl := f.block(l, []*chain.Tx{tx})
	if err := l.Commit(bl.b, bl.su); err != nil {
		t.Fatalf("%s: commit on top of %d: %v", where, h, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("%s: close: %v", where, err)
	}
	l, err = ledger.Open("ledger", suite, ledger.Options{FS: cp.fs, StateHistory: crashStateHistory})
	if err != nil {
		t.Fatalf("%s: reopen after the new block: %v", where, err)
	}
	if head, hash := l.Head(); head.Height != h+1 || hash != bl.b.Header.Hash(suite) {
		t.Fatalf("%s: new block not durable: head %d", where, head.Height)
	}
	if v, err := l.Get(records.StateKey("probe")); err != nil || v == nil {
		t.Fatalf("%s: probe record: %s, %v", where, short(v), err)
	}
	if loc, _, err := l.TxLocation(tx.ID(suite)); err != nil || loc != h+1 {
		t.Fatalf("%s: probe tx at %d, %v", where, loc, err)
	}
	// Nothing else moved.
	checkBlock(t, l, hs, h)
	for _, k := range hs.sortedKeys() {
		v, err := l.Get([]byte(k))
		if err != nil || string(v) != string(hs.states[h][k]) {
			t.Fatalf("%s: state %q after the new block: %s, %v", where, k, short(v), err)
		}
	}
	return h
}
