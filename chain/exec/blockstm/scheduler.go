package blockstm

import (
	"sync"
	"sync/atomic"
)

// This file is the collaborative scheduler of Block-STM (Gelashvili et al.,
// PPoPP 2023, Algorithms 4 and 5). Two shared indices, execution_idx and
// validation_idx, hand out the lowest transaction still to be executed or
// validated; threads claim tasks by fetch-and-increment, and aborts or
// newly written locations move the indices back down. Transactions that read
// an ESTIMATE are suspended on the blocking transaction's dependency list
// and resumed (as a new incarnation) once it finishes executing.
//
// Go's sync/atomic operations are sequentially consistent, as the paper's
// proofs assume.

// txStatus is the status of a transaction's current incarnation.
type txStatus uint8

const (
	readyToExecute txStatus = iota
	executing
	executed
	aborting
)

type taskKind uint8

const (
	noTask taskKind = iota
	executionTask
	validationTask
)

// task is a (version, kind) pair, or ⊥ when kind is noTask.
type task struct {
	kind taskKind
	txn  int32
	inc  int32
}

// txState is txn_status[txn] and txn_dependency[txn], padded so that
// neighbouring transactions do not share a cache line.
type txState struct {
	mu     sync.Mutex
	inc    int32
	status txStatus

	depMu sync.Mutex
	deps  []int32
	_     [64]byte
}

// paddedInt64 is an atomic counter alone on its cache line: each shared
// index is updated by every worker, and must not also slow down the others.
type paddedInt64 struct {
	atomic.Int64
	_ [56]byte
}

type scheduler struct {
	n              int64
	_              [56]byte
	executionIdx   paddedInt64
	validationIdx  paddedInt64
	decreaseCnt    paddedInt64
	numActiveTasks paddedInt64
	doneMarker     atomic.Bool
	txs            []txState

	// Idle workers park on parkCond instead of polling: on two cores a
	// polling worker takes the core that the busy one, or the GC, needs.
	// Whoever changes what they wait for calls wake.
	parkMu   sync.Mutex
	parkCond sync.Cond // on parkMu
	parked   atomic.Int32
}

// init prepares a reset scheduler for a block of n transactions.
func (s *scheduler) init(n int) {
	s.n = int64(n)
	s.txs = resize(s.txs, n)
	s.parkCond.L = &s.parkMu
}

// park blocks the calling worker while wait() holds. Every change that can
// make wait() false must be followed by a call to wake.
func (s *scheduler) park(wait func() bool) {
	s.parkMu.Lock()
	// Counting the worker before checking wait() pairs with wake, which
	// loads the count after its change: one of the two sees the other
	// (sync/atomic is sequentially consistent), so no wake-up is lost.
	s.parked.Add(1)
	for wait() {
		s.parkCond.Wait()
	}
	s.parked.Add(-1)
	s.parkMu.Unlock()
}

// wake resumes the parked workers, if any, to check again.
func (s *scheduler) wake() {
	if s.parked.Load() > 0 {
		s.parkMu.Lock()
		s.parkCond.Broadcast()
		s.parkMu.Unlock()
	}
}

// idle reports that no task can be handed out until a running one ends:
// both indices are past the block and the scheduler is not done.
func (s *scheduler) idle() bool {
	return !s.done() && min(s.executionIdx.Load(), s.validationIdx.Load()) >= s.n
}

// reset readies the scheduler for reuse.
func (s *scheduler) reset() {
	s.executionIdx.Store(0)
	s.validationIdx.Store(0)
	s.decreaseCnt.Store(0)
	s.numActiveTasks.Store(0)
	s.doneMarker.Store(false)
	clear(s.txs)
}

func fetchMin(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if cur <= v || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

func (s *scheduler) decreaseExecutionIdx(target int64) {
	fetchMin(&s.executionIdx.Int64, target)
	s.decreaseCnt.Add(1)
	s.wake()
}

func (s *scheduler) decreaseValidationIdx(target int64) {
	fetchMin(&s.validationIdx.Int64, target)
	s.decreaseCnt.Add(1)
	s.wake()
}

func (s *scheduler) done() bool { return s.doneMarker.Load() }

// checkDone sets the done marker when both indices are past the block, no
// task is in progress, and no index was decreased meanwhile.
func (s *scheduler) checkDone() {
	observed := s.decreaseCnt.Load()
	if min(s.executionIdx.Load(), s.validationIdx.Load()) >= s.n &&
		s.numActiveTasks.Load() == 0 && observed == s.decreaseCnt.Load() {
		s.doneMarker.Store(true)
		s.wake()
	}
}

// tryIncarnate claims txn for execution if it is ready. On failure it ends
// the caller's active task.
func (s *scheduler) tryIncarnate(txn int64) task {
	if txn < s.n {
		t := &s.txs[txn]
		t.mu.Lock()
		if t.status == readyToExecute {
			t.status = executing
			inc := t.inc
			t.mu.Unlock()
			return task{kind: executionTask, txn: int32(txn), inc: inc}
		}
		t.mu.Unlock()
	}
	s.numActiveTasks.Add(-1)
	return task{}
}

func (s *scheduler) nextVersionToExecute() task {
	if s.executionIdx.Load() >= s.n {
		s.checkDone()
		return task{}
	}
	s.numActiveTasks.Add(1)
	return s.tryIncarnate(s.executionIdx.Add(1) - 1)
}

func (s *scheduler) nextVersionToValidate() task {
	if s.validationIdx.Load() >= s.n {
		s.checkDone()
		return task{}
	}
	s.numActiveTasks.Add(1)
	idx := s.validationIdx.Add(1) - 1
	if idx < s.n {
		t := &s.txs[idx]
		t.mu.Lock()
		status, inc := t.status, t.inc
		t.mu.Unlock()
		if status == executed {
			return task{kind: validationTask, txn: int32(idx), inc: inc}
		}
	}
	s.numActiveTasks.Add(-1)
	return task{}
}

// nextTask prefers validation of lower transactions over execution.
func (s *scheduler) nextTask() task {
	if s.validationIdx.Load() < s.executionIdx.Load() {
		return s.nextVersionToValidate()
	}
	return s.nextVersionToExecute()
}

// addDependency suspends txn until blocking has executed. It returns false
// if blocking already finished (the caller re-executes txn at once).
func (s *scheduler) addDependency(txn, blocking int32) bool {
	b := &s.txs[blocking]
	b.depMu.Lock()
	b.mu.Lock()
	status := b.status
	b.mu.Unlock()
	if status == executed {
		b.depMu.Unlock()
		return false
	}
	t := &s.txs[txn]
	t.mu.Lock()
	t.status = aborting // was executing
	t.mu.Unlock()
	b.deps = append(b.deps, txn)
	b.depMu.Unlock()
	s.numActiveTasks.Add(-1)
	return true
}

func (s *scheduler) setReadyStatus(txn int32) {
	t := &s.txs[txn]
	t.mu.Lock()
	t.inc++ // status was aborting
	t.status = readyToExecute
	t.mu.Unlock()
}

func (s *scheduler) resumeDependencies(deps []int32) {
	if len(deps) == 0 {
		return
	}
	lowest := deps[0]
	for _, d := range deps {
		s.setReadyStatus(d)
		lowest = min(lowest, d)
	}
	s.decreaseExecutionIdx(int64(lowest))
}

// finishExecution marks txn executed, resumes its dependents, and schedules
// its validation: at once by this thread if the write set stayed within the
// previous incarnation's locations, else by lowering validation_idx so that
// every higher transaction is revalidated too.
func (s *scheduler) finishExecution(txn, inc int32, wroteNewLocation bool) task {
	t := &s.txs[txn]
	t.mu.Lock()
	t.status = executed // was executing
	t.mu.Unlock()
	t.depMu.Lock()
	deps := t.deps
	t.deps = nil
	t.depMu.Unlock()
	s.resumeDependencies(deps)
	if s.validationIdx.Load() > int64(txn) {
		if !wroteNewLocation {
			return task{kind: validationTask, txn: txn, inc: inc}
		}
		s.decreaseValidationIdx(int64(txn))
	}
	s.numActiveTasks.Add(-1)
	return task{}
}

// tryValidationAbort lets exactly one failed validation of an incarnation
// abort it.
func (s *scheduler) tryValidationAbort(txn, inc int32) bool {
	t := &s.txs[txn]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inc == inc && t.status == executed {
		t.status = aborting
		return true
	}
	return false
}

// finishValidation schedules the re-execution of an aborted transaction
// (directly by this thread when execution_idx is already past it) and the
// revalidation of every higher one.
func (s *scheduler) finishValidation(txn int32, aborted bool) task {
	if aborted {
		s.setReadyStatus(txn)
		s.decreaseValidationIdx(int64(txn) + 1)
		if s.executionIdx.Load() > int64(txn) {
			// tryIncarnate ends the active task itself if it fails.
			return s.tryIncarnate(int64(txn))
		}
	}
	s.numActiveTasks.Add(-1)
	return task{}
}

// executed reports whether txn's current incarnation has executed. Only for
// use once every worker has stopped.
func (s *scheduler) executed(txn int32) bool { return s.txs[txn].status == executed }
