package ledger_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/module"
)

const testRetain = uint64(ledger.MinRetainBlocks)

// checkRetained checks that l at head h holds exactly the blocks the
// retention window keeps: the genesis, heights h+1-retain..h in full, and
// ErrBlockPruned below them; the tx index still locates pruned
// transactions.
func checkRetained(tb testing.TB, l *ledger.Ledger, hs *history, h, retain uint64) {
	tb.Helper()
	base := uint64(0)
	if h >= retain {
		base = h + 1 - retain
	}
	if got := l.Base(); got != base {
		tb.Fatalf("head %d: base %d, want %d", h, got, base)
	}
	checkBlock(tb, l, hs, 0)
	for i := max(base, 1); i <= h; i++ {
		checkBlock(tb, l, hs, i)
	}
	for i := uint64(1); i < base; i++ {
		if _, err := l.Block(i); !errors.Is(err, ledger.ErrBlockPruned) {
			tb.Fatalf("block %d below base %d: %v", i, base, err)
		}
		if _, err := l.Receipts(i); !errors.Is(err, ledger.ErrBlockPruned) {
			tb.Fatalf("receipts %d below base %d: %v", i, base, err)
		}
		if _, _, err := l.Header(i); !errors.Is(err, ledger.ErrBlockPruned) {
			tb.Fatalf("header %d below base %d: %v", i, base, err)
		}
		for _, tx := range hs.blocks[i].Txs {
			if at, _, err := l.TxLocation(tx.ID(suite)); err != nil || at != i {
				tb.Fatalf("pruned tx of block %d located at %d, %v", i, at, err)
			}
		}
	}
	checkState(tb, l, hs, h)
}

func TestRetainBlocks(t *testing.T) {
	f := newFixture(t, 3)
	dir := t.TempDir()
	l := f.open(dir, ledger.Options{RetainBlocks: testRetain})
	hs := newHistory(t, l, &f.g.Validators)
	gen := &crashGen{f: f, rng: rand.New(rand.NewPCG(1, 2)), exist: map[string]bool{}}
	for h := uint64(1); h <= 3*testRetain; h++ {
		hs.add(f.commit(l, gen.txs()))
		checkRetained(t, l, hs, h, testRetain)
	}
	l.Close()
	// The base is durable, and a larger window keeps what is left.
	l = f.open(dir, ledger.Options{RetainBlocks: 2 * testRetain})
	defer l.Close()
	if got, want := l.Base(), 2*testRetain+1; got != want {
		t.Fatalf("reopened base %d, want %d", got, want)
	}
	hs.add(f.commit(l, gen.txs()))
	if got, want := l.Base(), 2*testRetain+1; got != want {
		t.Fatalf("base %d after widening the window, want %d", got, want)
	}
}

func TestRetainBlocksBounds(t *testing.T) {
	if _, err := ledger.Open(t.TempDir(), suite, ledger.Options{RetainBlocks: ledger.MinRetainBlocks - 1}); err == nil {
		t.Fatal("a window below MinRetainBlocks opened")
	}
}

// TestRetainCrashSafety takes crash clones while commits prune: every clone
// opens at a whole block whose base matches its head, holding every block
// the window keeps.
func TestRetainCrashSafety(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x9e7a))
	f := newFixture(t, 3)
	fs := vfs.NewCrashableMem()
	opts := ledger.Options{FS: fs, RetainBlocks: testRetain}
	l := f.open("ledger", opts)
	defer l.Close()
	hs := newHistory(t, l, &f.g.Validators)
	gen := &crashGen{f: f, rng: rng, exist: map[string]bool{}}
	checked := 0
	check := func(cfs *vfs.MemFS, lo, hi uint64) {
		t.Helper()
		o := opts
		o.FS = cfs
		c, err := ledger.Open("ledger", suite, o)
		if err != nil {
			t.Fatalf("clone: open: %v", err)
		}
		defer c.Close()
		h := c.Height()
		if h < lo || h > hi {
			t.Fatalf("clone: head %d outside %d..%d", h, lo, hi)
		}
		checkRetained(t, c, hs, h, testRetain)
		checked++
	}
	for h := uint64(1); h <= 2*testRetain+4; h++ {
		bl := f.block(l, gen.txs())
		hs.add(bl)
		done := make(chan error, 1)
		go func() { done <- l.Commit(bl.b, bl.su) }()
		var clones []*vfs.MemFS
	loop:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("commit %d: %v", h, err)
				}
				break loop
			default:
			}
			if len(clones) < 3 {
				p := crashPercents[rng.IntN(len(crashPercents))]
				clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rand.New(rand.NewPCG(rng.Uint64(), 1))}))
			}
			for range rng.IntN(64) {
				runtime.Gosched()
			}
		}
		for _, c := range clones {
			check(c, h-1, h)
		}
	}
	t.Logf("%d crash clones checked", checked)
}

// replaceFixture commits the same chain into two ledgers: old up to
// oldH, and a ledger in old's RestoreDir up to newH (closed).
func replaceFixture(t *testing.T, dir string, oldH, newH uint64) (*fixture, *ledger.Ledger, []*chain.Block) {
	f := newFixture(t, 2)
	old := f.open(dir, ledger.Options{})
	restored := f.open(old.RestoreDir(), ledger.Options{})
	var blocks []*chain.Block
	for h := uint64(1); h <= newH; h++ {
		bl := f.block(restored, []*chain.Tx{f.put(int(h%2), fmt.Sprint("r", h), "v")})
		if err := restored.Commit(bl.b, bl.su); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bl.b)
		if h <= oldH {
			// The same block executes to the same update on old.
			head, _ := old.Head()
			res, err := f.exe.Execute(module.Block{ChainID: bl.b.Header.ChainID, Height: bl.b.Header.Height, Time: bl.b.Header.Time}, bl.b.Txs, old, exec.Verify)
			if err != nil {
				t.Fatal(err)
			}
			su, err := old.Prepare(head.StateRoot, res.Writes)
			if err != nil {
				t.Fatal(err)
			}
			su.Receipts = res.Receipts
			if err := old.Commit(bl.b, su); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := restored.Close(); err != nil {
		t.Fatal(err)
	}
	return f, old, blocks
}

func TestReplace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger")
	_, l, blocks := replaceFixture(t, dir, 3, 9)
	defer l.Close()
	ss, err := l.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Replace() }()
	select {
	case err := <-done:
		t.Fatalf("Replace returned (%v) while a state snapshot was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	if l.Height() != 3 {
		t.Fatal("Replace did not wait for the open snapshot")
	}
	ss.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if head, hash := l.Head(); head.Height != 9 || hash != blocks[8].Header.Hash(suite) {
		t.Fatalf("replaced head %d", head.Height)
	}
	if _, err := l.Block(9); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{l.RestoreDir(), dir + ".old"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", p, err)
		}
	}
}

// TestReplaceCrash opens ledgers as a crash during Replace would leave them.
func TestReplaceCrash(t *testing.T) {
	// Cut off before the old ledger was renamed aside: the old one stays.
	dir := filepath.Join(t.TempDir(), "ledger")
	f, l, _ := replaceFixture(t, dir, 3, 9)
	l.Close()
	l = f.open(dir, ledger.Options{})
	if l.Height() != 3 {
		t.Fatalf("cut off before the swap: head %d, want the old 3", l.Height())
	}
	if _, err := os.Stat(l.RestoreDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unfinished restore left: %v", err)
	}
	l.Close()

	// Cut off between the renames: the restored one takes its place.
	dir = filepath.Join(t.TempDir(), "ledger")
	f, l, _ = replaceFixture(t, dir, 3, 9)
	l.Close()
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	l = f.open(dir, ledger.Options{})
	defer l.Close()
	if l.Height() != 9 {
		t.Fatalf("cut off between the renames: head %d, want the restored 9", l.Height())
	}
	if _, err := os.Stat(dir + ".old"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old ledger left: %v", err)
	}
}

// TestRetainConcurrentReads: a reader racing the commits that prune sees
// every block at or above the base it read, or ErrBlockPruned, never a
// block missing above the base.
func TestRetainConcurrentReads(t *testing.T) {
	f := newFixture(t, 2)
	l := f.open(t.TempDir(), ledger.Options{RetainBlocks: testRetain})
	defer l.Close()
	gen := &crashGen{f: f, rng: rand.New(rand.NewPCG(3, 4)), exist: map[string]bool{}}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			base := l.Base()
			if _, err := l.Block(max(base, 1)); err != nil && !errors.Is(err, ledger.ErrBlockPruned) && base > 0 {
				errs <- fmt.Errorf("block %d at base %d: %w", max(base, 1), base, err)
				return
			}
		}
	}()
	for range 4 * testRetain {
		f.commit(l, gen.txs())
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
