// Package blockstm is a parallel block executor following Block-STM
// (Gelashvili, Spiegelman, Xiang, Danezis, Li, Malkhi, Xia, Zhou: "Block-STM:
// Scaling Blockchain Execution by Turning Ordering Curse to a Performance
// Blessing", PPoPP 2023). Transactions run optimistically on worker
// goroutines against a multi-version memory; a collaborative scheduler
// validates each incarnation's read set and re-executes transactions whose
// reads were invalidated by lower ones, so that the outcome is exactly that
// of executing the block in order. Results are byte-identical to
// exec.NewSerial's for every worker count.
//
// Mapping to the paper:
//   - scheduler.go: Algorithms 4 and 5 (execution_idx / validation_idx,
//     incarnations, txn_status, dependency suspension and resumption,
//     check_done).
//   - mvmemory.go: Algorithm 2 (versioned entries, ESTIMATE markers,
//     record / rcu_update_written_locations, validate_read_set, snapshot).
//   - vm.go: Algorithm 3 (execution with read-set capture and READ_ERROR).
//   - this file: Algorithm 1 (the thread loop, try_execute,
//     needs_reexecution), plus what the paper leaves to its caller:
//     transaction validity, a final check, the serial tail of a halted run,
//     and result assembly.
//
// Once the scheduler is done, the same workers validate every read set once
// more (Block-STM guarantees they are valid; this is cheap insurance that
// would send the block to the serial tail) and build the sorted write set
// together: each sorts the locations of a range of buckets (sort.go), then merges
// one key range of all the sorted parts.
//
// Transaction validity. An invalid transaction (wrong chain, expired, bad
// nonce, unreadable nonce) writes nothing, and whether it is invalid depends
// only on its reads (the sender's nonce key, an ordinary location). So it is
// simply a transaction with an empty write set: later transactions read the
// state as if it did not exist, including the sender's nonce, and a
// transaction that was invalid only speculatively is re-executed like any
// other when validation finds its nonce read stale. Build mode therefore
// needs no second pass: dropped transactions are those whose final
// incarnation is invalid. In Verify mode the serial executor stops at the
// first invalid transaction; the parallel run reports the same index and
// error because transactions before it have identical outcomes in both
// executors, and it only executes transactions before the first statically
// invalid one (wrong chain or expired), which is found up front.
//
// Heavy conflicts. When transactions mostly depend on each other, optimistic
// execution wastes work and parallelism cannot help. The executor watches
// the fraction of incarnations that are aborted or suspended; past a
// threshold (which depends on the number of workers) it stops the workers
// and finishes the block on the calling goroutine: it takes the longest
// prefix of transactions whose executed incarnations still validate (each
// reads only lower, already final, transactions), flattens their writes
// into a plain overlay, and runs the remaining transactions one after
// another exactly like the serial executor. Consecutive blocks tend to
// have the same load, so after such a halt the executor also sends the
// next blocks straight to exec.Serial: one, then two, four, up to
// maxSkip after further halts, until a block completes in parallel.
//
// Workers. At most GOMAXPROCS workers run (more could not run at once and
// would only add aborts); blocks of fewer than two transactions per worker,
// and any block when only one worker would run, go to exec.Serial. A worker
// with nothing to do yields a few times, then parks until the scheduler has
// work again: on two cores a polling worker takes the core that the busy one,
// or the GC, needs. The
// per-block structures are kept by the executor for the next blocks,
// cleared by a short-lived goroutine after Execute returns (not in a
// sync.Pool, which the GC empties: on a busy node that happens about every
// block).
//
// Modules run speculatively, possibly on inconsistent state (a mix of
// versions no serial order produces). Their panics are recovered and, like
// errors, are results that validation discards if the reads were stale. A
// module must still not hang or exhaust memory on such a state without
// charging work, and must not modify the slices Get returns (they are
// shared between transactions), which the serial executor forbids too.
package blockstm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
)

// Executor is a Block-STM executor. It is safe for concurrent use; each
// Execute call runs its own workers, which have all exited when it returns.
type Executor struct {
	cfg     exec.Config
	serial  *exec.Serial
	workers int

	// Tuning, fixed by New; tests adjust them.
	capWorkers  bool  // use at most GOMAXPROCS workers
	oneWorker   bool  // run Block-STM even with one worker (tests)
	minPerWork  int   // blocks under minPerWork*workers transactions run serially
	adaptive    bool  // stop the workers on heavy conflict
	minSample   int64 // incarnations seen before judging the conflict rate
	wastedPct   int64 // halt when more than this % of incarnations are wasted (0: haltPct)
	haltAfter   int64 // testing: halt after this many incarnations (0: never)
	onBlockDone func(stats)

	// After a block halts on heavy conflict, the next skip blocks go
	// straight to exec.Serial; each further halt doubles the number (up to
	// maxSkip), a block that completes in parallel resets it.
	skip, lastSkip atomic.Int32

	memMu sync.Mutex
	mems  []*runMem // cleared, for the next blocks
}

// maxSkip bounds the serial blocks run after a halt before Block-STM is
// tried again.
const maxSkip = 16

var _ exec.Executor = (*Executor)(nil)

// stats describe one parallel run, for tests and benchmarks.
type stats struct {
	incarnations int64 // executions started, including retried ones
	wasted       int64 // incarnations aborted by validation or suspended
	halted       bool  // the workers were stopped before the end
	conflicted   bool  // they were stopped because of heavy conflict
	tailRuns     int64 // transactions left for the serial tail
}

// New returns an executor running up to workers goroutines per block
// (capped at GOMAXPROCS, as more cannot run at once). With workers <= 1 it
// executes serially.
func New(cfg exec.Config, workers int) *Executor {
	if cfg.TxWorkLimit == 0 {
		cfg.TxWorkLimit = module.DefaultTxWorkLimit
	}
	return &Executor{
		cfg:        cfg,
		serial:     exec.NewSerial(cfg),
		workers:    workers,
		capWorkers: true,
		minPerWork: 2,
		adaptive:   true,
		minSample:  64,
	}
}

// haltPct is the share of wasted incarnations (in percent) above which w
// workers are slower than one: w workers wasting a fraction f of their
// incarnations do w*(1-f) useful executions per unit of time, which must
// beat 1.2 (the serial pass, with a margin for the parallel bookkeeping).
// Two workers halt above 40%, four above 70%, eight above 85%.
func haltPct(w int) int64 { return max(0, int64(100-120/w)) }

// Execute implements exec.Executor.
func (e *Executor) Execute(b module.Block, txs []*chain.Tx, st exec.State, mode exec.Mode) (*exec.Result, error) {
	w := e.workers
	if e.capWorkers {
		w = min(w, runtime.GOMAXPROCS(0))
	}
	if (w <= 1 && !e.oneWorker) || len(txs) < e.minPerWork*w || e.skipBlock() {
		return e.serial.Execute(b, txs, st, mode)
	}
	w = max(w, 1)

	m := e.getRunMem(len(txs))
	// Clearing the memory for reuse is left to a goroutine of its own, off
	// the block's critical path.
	defer func() { go e.putRunMem(m) }()

	// State-independent validity, checked up front. In Verify mode nothing
	// at or after the first statically invalid transaction matters.
	static := m.static
	n := len(txs)
	for i, tx := range txs {
		static[i] = staticCheck(b, tx)
		if static[i] != nil && mode == exec.Verify {
			n = i
			break
		}
	}

	m.mv.init(n)
	m.s.init(n)
	for len(m.workers) < w {
		m.workers = append(m.workers, workerMem{scratch: make(map[string]wentry)})
	}
	r := &blockRun{
		cfg:    e.cfg,
		e:      e,
		b:      b,
		txs:    txs[:n],
		static: static[:n],
		st:     st,
		mv:     m.mv,
		s:      m.s,
		out:    m.out[:n],
		mem:    m.workers,
	}
	r.haltPct = e.wastedPct
	if r.haltPct == 0 {
		r.haltPct = haltPct(w)
	}
	// A block failing verification at a statically invalid transaction
	// needs no write set.
	r.wantWrites = n == len(txs)
	w = min(w, n)
	if n > 0 {
		r.runWorkers(w)
	}
	r.finish(w)
	e.learn(r.stats)
	if e.onBlockDone != nil {
		e.onBlockDone(r.stats)
	}

	res := &exec.Result{}
	valid := 0
	for i := range n {
		if r.out[i].invalid == nil {
			valid++
		}
	}
	if valid > 0 {
		res.Txs = make([]*chain.Tx, 0, valid)
		res.Receipts = make([]*chain.Receipt, 0, valid)
	}
	for i := range n {
		o := &r.out[i]
		if o.invalid != nil {
			if mode == exec.Verify {
				return nil, fmt.Errorf("%w: tx %d: %w", exec.ErrInvalidBlock, i, o.invalid)
			}
			res.Dropped = append(res.Dropped, exec.Dropped{Tx: txs[i], Err: o.invalid})
			continue
		}
		res.Txs = append(res.Txs, txs[i])
		res.Receipts = append(res.Receipts, o.rc)
	}
	if n < len(txs) {
		return nil, fmt.Errorf("%w: tx %d: %w", exec.ErrInvalidBlock, n, static[n])
	}
	res.Writes = r.writes
	return res, nil
}

// skipBlock reports whether this block goes to exec.Serial because recent
// ones halted on heavy conflict.
func (e *Executor) skipBlock() bool {
	for {
		n := e.skip.Load()
		if n <= 0 {
			return false
		}
		if e.skip.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// learn sets how many of the next blocks skip Block-STM after this one.
func (e *Executor) learn(s stats) {
	if !s.conflicted {
		e.lastSkip.Store(0)
		return
	}
	n := min(max(2*e.lastSkip.Load(), 1), maxSkip)
	e.lastSkip.Store(n)
	e.skip.Store(n)
}

// runMem is the memory of a parallel run that does not outlive it, recycled
// from block to block: it spares the allocator and the GC, and the page
// faults of fresh memory. Kept runMems hold no reference to a block.
type runMem struct {
	mv      *mvMemory
	s       *scheduler
	out     []paddedOutput
	static  []error
	workers []workerMem
}

// maxFreeMems bounds the runMems an executor keeps. Two suffice for
// blocks executed one after another: one is cleared while the next block
// runs on the other.
const maxFreeMems = 2

func (e *Executor) getRunMem(n int) *runMem {
	var m *runMem
	e.memMu.Lock()
	if k := len(e.mems); k > 0 {
		m, e.mems[k-1] = e.mems[k-1], nil
		e.mems = e.mems[:k-1]
	}
	e.memMu.Unlock()
	if m == nil {
		m = &runMem{mv: newMVMemory(), s: &scheduler{}}
	}
	m.out = resize(m.out, n)
	m.static = resize(m.static, n)
	return m
}

func (e *Executor) putRunMem(m *runMem) {
	m.mv.reset()
	m.s.reset()
	for i := range m.workers {
		m.workers[i].reset()
	}
	clear(m.out)
	clear(m.static)
	e.memMu.Lock()
	if len(e.mems) < maxFreeMems {
		e.mems = append(e.mems, m)
	}
	e.memMu.Unlock()
}

// txOutput is what the last incarnation of a transaction produced. It is
// written only by the thread executing that incarnation; incarnations of
// one transaction are ordered by its status lock.
type txOutput struct {
	prepared bool // sender, nonceKey and id are set
	sender   chain.Address
	nonceKey []byte
	id       crypto.Hash

	invalid error          // the transaction is invalid at its position
	rc      *chain.Receipt // otherwise its receipt
}

// paddedOutput keeps neighbouring transactions' outputs, often written by
// different workers, off each other's cache lines.
type paddedOutput struct {
	txOutput
	_ [64]byte
}

// blockRun is the state of one Execute call.
type blockRun struct {
	cfg    exec.Config
	e      *Executor
	b      module.Block
	txs    []*chain.Tx
	static []error
	st     exec.State
	mv     *mvMemory
	s      *scheduler
	out    []paddedOutput
	mem    []workerMem // worker g's is mem[g]

	wantWrites bool
	writes     []exec.Write // the result's write set
	post       postPhase

	haltPct    int64 // halt when more than this % of incarnations are wasted
	halt       atomic.Bool
	conflicted atomic.Bool // halted because of heavy conflict
	workers    []worker
	panicOnce  sync.Once
	panicVal   any

	stats stats
}

// postPhase is what the workers do together once the scheduler is done:
// check that every transaction's read set validates (Block-STM guarantees
// it; the check is cheap insurance) and build the sorted write set, each
// worker for a share of the locations. The write set does not wait for the
// check: no location changes once the scheduler is done, and finish drops
// the write set if a read set turns out invalid. Doing this on the workers
// already running avoids waking goroutines for it.
type postPhase struct {
	next, first atomic.Int32 // the next chunk to validate; the lowest invalid transaction
	arrived     atomic.Int32 // workers that finished validating
	built       atomic.Int32 // workers that built their part of the write set
	merged      atomic.Int32 // workers that merged their range of the write set
	parts       [][]exec.Write
	outOnce     sync.Once
	out         []exec.Write
}

// runWorkers runs w threads of Algorithm 1 (one on the calling goroutine)
// until the scheduler is done or the run is halted.
func (r *blockRun) runWorkers(w int) {
	r.workers = make([]worker, w)
	r.post.first.Store(int32(len(r.txs)))
	r.post.parts = make([][]exec.Write, w)
	var wg sync.WaitGroup
	for i := 1; i < w; i++ {
		wg.Go(r.workers[i].run(r, i))
	}
	r.workers[0].run(r, 0)()
	wg.Wait()
	if r.panicVal != nil {
		panic(r.panicVal) // an executor bug, re-raised on the caller's goroutine
	}
	r.stats.incarnations, r.stats.wasted = r.counts()
	r.stats.halted = r.halt.Load()
	r.stats.conflicted = r.conflicted.Load()
}

// worker is one thread of Algorithm 1. Its counters are written only by
// itself, and padded, so that counting costs no cache-line traffic.
type worker struct {
	mem          *workerMem
	incarnations atomic.Int64
	wasted       atomic.Int64
	_            [64]byte
}

// counts sums the workers' counters.
func (r *blockRun) counts() (incarnations, wasted int64) {
	for i := range r.workers {
		incarnations += r.workers[i].incarnations.Load()
		wasted += r.workers[i].wasted.Load()
	}
	return incarnations, wasted
}

// run returns Algorithm 1's run() for worker g, followed by the post
// phase. A task in hand when the run halts is dropped: the serial tail
// redoes whatever it left undone.
func (wk *worker) run(r *blockRun, g int) func() {
	return func() {
		defer func() {
			if p := recover(); p != nil {
				r.panicOnce.Do(func() { r.panicVal = p })
				r.stop()
			}
		}()
		wk.mem = &r.mem[g]
		var t task
		misses := 0
		for !r.s.done() && !r.halt.Load() {
			if t.kind == executionTask {
				t = r.tryExecute(wk, t.txn, t.inc)
			}
			if t.kind == validationTask {
				t = r.needsReexecution(wk, t.txn, t.inc)
			}
			if t.kind == noTask {
				if t = r.s.nextTask(); t.kind != noTask {
					misses = 0
				} else if misses++; misses > spinsBeforeIdle {
					// Nothing to do until another worker finishes a
					// task: sleep until the scheduler has work again.
					// This worker's last poll may have ended a task
					// after its own check for the end of the block, and
					// the workers it kept from seeing the end may all
					// be parked: check before parking.
					r.s.checkDone()
					r.pause(func() bool { return r.s.idle() && !r.halt.Load() })
					misses = 0
				}
			}
		}
		if !r.halt.Load() {
			r.postPhase(g)
		}
	}
}

// postPhase is worker g's share of the post phase. If the run halts
// meanwhile, or a read set fails to validate, finish does the rest.
func (r *blockRun) postPhase(g int) {
	const chunk = 32
	n := int32(len(r.txs))
	for {
		lo := r.post.next.Add(chunk) - chunk
		if lo >= r.post.first.Load() {
			break
		}
		for i := lo; i < min(lo+chunk, n); i++ {
			if !r.s.executed(i) || !r.mv.validateReadSet(i) {
				fetchMin32(&r.post.first, i)
				break
			}
		}
	}
	r.post.arrived.Add(1)
	w := int32(len(r.workers))
	if r.post.first.Load() != n || !r.wantWrites {
		return
	}
	// Each worker sorts the locations of a range of buckets, then merges one key
	// range of all those parts into the write set.
	r.post.parts[g] = r.mv.snapshotPart(n, g, int(w), &r.mem[g].sort)
	if !r.barrier(&r.post.built, w) {
		return
	}
	r.post.outOnce.Do(func() {
		size := 0
		for _, p := range r.post.parts {
			size += len(p)
		}
		r.post.out = make([]exec.Write, size)
	})
	mergeRange(r.post.out, r.post.parts, g, int(w))
	r.post.merged.Add(1)
}

// barrier counts the calling worker in c and waits for all w. It returns
// false if the run halted meanwhile.
func (r *blockRun) barrier(c *atomic.Int32, w int32) bool {
	c.Add(1)
	r.s.wake()
	r.pause(func() bool { return c.Load() < w && !r.halt.Load() })
	return c.Load() >= w
}

// pause waits while wait() holds. What it waits for is usually close (a
// transaction finishing elsewhere): it yields a few times before parking,
// which would add a wake-up's latency. Whatever makes wait() false must be
// followed by r.s.wake().
func (r *blockRun) pause(wait func() bool) {
	for i := 0; i < pollsBeforePark && wait(); i++ {
		runtime.Gosched()
	}
	r.s.park(wait)
}

// pollsBeforePark is how many times pause yields before parking: some
// microseconds.
const pollsBeforePark = 64

// stop halts the parallel phase.
func (r *blockRun) stop() {
	r.halt.Store(true)
	r.s.wake()
}

// spinsBeforeIdle is how many times in a row a worker polls the scheduler
// in vain before it checks whether to park. A single miss is common and
// brief (the validation index passing a transaction still executing).
const spinsBeforeIdle = 4

// tryExecute is Algorithm 1's try_execute.
func (r *blockRun) tryExecute(wk *worker, txn, inc int32) task {
	for {
		r.noteIncarnation(wk)
		wm := wk.mem
		reads, writes, blocking := r.execute(txn, wm.scratch, wm.rs, nil)
		if reads != nil {
			wm.rs = reads[:0] // keep a grown buffer
		}
		if blocking >= 0 {
			r.noteWasted(wk)
			if !r.s.addDependency(txn, blocking) {
				continue // the blocking transaction finished meanwhile
			}
			return task{}
		}
		wroteNew := r.mv.record(wm, txn, inc, reads, writes)
		return r.s.finishExecution(txn, inc, wroteNew)
	}
}

// needsReexecution is Algorithm 1's needs_reexecution.
func (r *blockRun) needsReexecution(wk *worker, txn, inc int32) task {
	valid := r.mv.validateReadSet(txn)
	aborted := !valid && r.s.tryValidationAbort(txn, inc)
	if aborted {
		r.noteWasted(wk)
		r.mv.convertWritesToEstimates(txn)
	}
	return r.s.finishValidation(txn, aborted)
}

func (r *blockRun) noteIncarnation(wk *worker) {
	wk.incarnations.Store(wk.incarnations.Load() + 1)
	if r.e.haltAfter > 0 {
		if n, _ := r.counts(); n >= r.e.haltAfter {
			r.stop()
		}
	}
}

// noteWasted counts an aborted or suspended incarnation and halts the
// parallel phase when too large a share of the work is being thrown away:
// then transactions mostly depend on their predecessors and the serial
// tail is faster than the workers.
func (r *blockRun) noteWasted(wk *worker) {
	wk.wasted.Store(wk.wasted.Load() + 1)
	if !r.e.adaptive {
		return
	}
	if n, wasted := r.counts(); n >= r.e.minSample && wasted*100 > n*r.haltPct {
		r.conflicted.Store(true)
		r.stop()
	}
}

// finish completes the block after the parallel phase: normally it only
// merges the parts of the write set the workers built. Otherwise (the run
// halted, or the post phase found a read set invalid, which Block-STM rules
// out) it finds the longest prefix of transactions whose executed
// incarnations are final, and runs the rest one after another on the
// calling goroutine, exactly as the serial executor would, on a plain
// overlay holding the prefix's writes. A halted run stopped on heavy
// conflicts, where the speculative results past the prefix are mostly
// stale anyway.
func (r *blockRun) finish(w int) {
	n := int32(len(r.txs))
	if w := int32(w); n > 0 && !r.halt.Load() && r.post.arrived.Load() == w && r.post.first.Load() == n &&
		(!r.wantWrites || r.post.merged.Load() == w) {
		r.writes = r.post.out
		return
	}
	f := r.validPrefix(w)
	if f == n {
		if r.wantWrites {
			r.writes = r.mv.snapshot(n, w)
		}
		return
	}
	r.stats.tailRuns = int64(n - f)
	tail := r.mv.flatten(f)
	scratch := make(map[string]wentry)
	for i := f; i < n; i++ {
		_, writes, blocking := r.execute(i, scratch, nil, tail)
		if blocking >= 0 {
			panic("blockstm: read of an estimate in the serial tail")
		}
		for k, w := range writes {
			tail[k] = w
		}
	}
	r.writes = sortedWrites(tail)
}

// validPrefix returns the lowest transaction that has not executed or whose
// read set does not validate (len(r.txs) if none). Every transaction below
// it is final: transaction 0 reads only storage, and each next one read
// versions of final transactions.
func (r *blockRun) validPrefix(w int) int32 {
	const chunk = 32
	n := int32(len(r.txs))
	var next atomic.Int32
	var first atomic.Int32
	first.Store(n)
	parallel(max(w, 1), func(int) {
		for {
			lo := next.Add(chunk) - chunk
			if lo >= first.Load() {
				return
			}
			for i := lo; i < min(lo+chunk, n); i++ {
				if !r.s.executed(i) || !r.mv.validateReadSet(i) {
					fetchMin32(&first, i)
					return
				}
			}
		}
	})
	return first.Load()
}

func fetchMin32(a *atomic.Int32, v int32) {
	for {
		cur := a.Load()
		if cur <= v || a.CompareAndSwap(cur, v) {
			return
		}
	}
}
