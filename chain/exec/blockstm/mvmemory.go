package blockstm

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/polityledger/polity/chain/exec"
)

// This file is the multi-version data structure of Block-STM (Gelashvili et
// al., PPoPP 2023, Algorithm 2, "MVMemory"): for every state key, the value
// written by each transaction index together with the incarnation that wrote
// it, or an ESTIMATE marker left by an aborted incarnation. A read by
// transaction j returns the entry of the highest index below j.

// storageVersion is the txn of a read that found no entry in MVMemory and
// went to committed storage (the paper's ⊥ version).
const storageVersion = -1

// mvEntry is data[(location, txn)] of Algorithm 2.
type mvEntry struct {
	txn      int32
	inc      int32
	estimate bool   // ESTIMATE marker: the writer was aborted
	del      bool   // the write deletes the key
	val      []byte // never modified once stored
}

// mvKey holds every version of one location, sorted by txn. key, hash and
// next are set before the location is published and never change.
type mvKey struct {
	key  string
	hash uint64
	next *mvKey // the bucket's chain
	mu   sync.RWMutex
	es   []mvEntry
	one  [1]mvEntry // es's first backing array: most keys have one writer
}

// readStatus is the status of MVMemory.read.
type readStatus uint8

const (
	readNotFound readStatus = iota // no lower transaction wrote the key
	readOK                         // a lower transaction's value
	readEstimate                   // READ_ERROR: the lower writer is aborted
)

type readResult struct {
	status readStatus
	txn    int32 // writer (readOK) or blocking transaction (readEstimate)
	inc    int32
	del    bool
	val    []byte
}

// search returns the position of the first entry with txn >= j.
func (k *mvKey) search(j int32) int {
	lo, hi := 0, len(k.es)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k.es[m].txn < j {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// read is MVMemory.read(location, j) for this location.
func (k *mvKey) read(j int32) readResult {
	k.mu.RLock()
	i := k.search(j)
	if i == 0 {
		k.mu.RUnlock()
		return readResult{status: readNotFound}
	}
	e := k.es[i-1]
	k.mu.RUnlock()
	if e.estimate {
		return readResult{status: readEstimate, txn: e.txn}
	}
	return readResult{status: readOK, txn: e.txn, inc: e.inc, del: e.del, val: e.val}
}

// write stores (inc, value) as txn's entry, replacing an older one.
func (k *mvKey) write(txn, inc int32, val []byte, del bool) {
	e := mvEntry{txn: txn, inc: inc, del: del, val: val}
	k.mu.Lock()
	i := k.search(txn)
	if i < len(k.es) && k.es[i].txn == txn {
		k.es[i] = e
	} else {
		k.es = slices.Insert(k.es, i, e)
	}
	k.mu.Unlock()
}

// remove deletes txn's entry, if any.
func (k *mvKey) remove(txn int32) {
	k.mu.Lock()
	if i := k.search(txn); i < len(k.es) && k.es[i].txn == txn {
		k.es = slices.Delete(k.es, i, i+1)
	}
	k.mu.Unlock()
}

// markEstimate turns txn's entry into an ESTIMATE marker.
func (k *mvKey) markEstimate(txn int32) {
	k.mu.Lock()
	if i := k.search(txn); i < len(k.es) && k.es[i].txn == txn {
		k.es[i].estimate = true
	}
	k.mu.Unlock()
}

// readDesc is one element of a read set: the location and the version read
// (txn == storageVersion for a read from committed storage). A read from
// storage of a location no transaction has written keeps only the key: not
// creating locations for reads keeps the shared map smaller and less
// contended.
type readDesc struct {
	k   *mvKey // nil if the location did not exist
	key string // set when k is nil
	txn int32
	inc int32
}

// wentry is a buffered write of an incarnation.
type wentry struct {
	v   []byte
	del bool
}

// mvMemory is Algorithm 2's data, last_written_locations and last_read_set.
// Locations live in a hash table of chained buckets, fixed in size for a
// block: a lookup takes no lock and writes nothing (workers on different
// cores would otherwise pass a lock's cache line back and forth on every
// read), and a new location is linked at the head of its bucket with a
// compare-and-swap. Per-location version lists have their own lock.
type mvMemory struct {
	seed    maphash.Seed
	buckets []atomic.Pointer[mvKey]
	sets    []txSets
}

// txSets are last_written_locations[txn] and last_read_set[txn] of the
// last recorded incarnation, published together and never modified. The
// slot is padded so that neighbouring transactions, often run by different
// workers, do not share a cache line.
type txSets struct {
	p atomic.Pointer[recorded]
	_ [56]byte
}

type recorded struct {
	written []*mvKey
	reads   []readDesc
}

func newMVMemory() *mvMemory { return &mvMemory{seed: maphash.MakeSeed()} }

// bucketsPerTx sizes the table: a transaction writes about three locations
// (its nonce and two more), so chains stay short.
const (
	bucketsPerTx = 8
	minBuckets   = 1 << 8
	maxBuckets   = 1 << 20
)

// init prepares an empty memory for a block of n transactions.
func (mv *mvMemory) init(n int) {
	mv.sets = resize(mv.sets, n)
	size := minBuckets
	for size < bucketsPerTx*n && size < maxBuckets {
		size <<= 1
	}
	if cap(mv.buckets) >= size {
		mv.buckets = mv.buckets[:size]
	} else {
		mv.buckets = make([]atomic.Pointer[mvKey], size)
	}
}

// reset empties the memory for reuse, keeping no reference to the block.
// The locations' memory belongs to the workers and is reset with theirs.
func (mv *mvMemory) reset() {
	clear(mv.buckets)
	clear(mv.sets)
}

// resize returns s with length n, reusing its array if large enough. The
// elements are zero if s's were.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// bucket is the head of key's chain.
func (mv *mvMemory) bucket(h uint64) *atomic.Pointer[mvKey] {
	return &mv.buckets[h&uint64(len(mv.buckets)-1)]
}

// find returns key's location in the chain from head, or nil.
func find(head *mvKey, h uint64, key string) *mvKey {
	for k := head; k != nil; k = k.next {
		if k.hash == h && k.key == key {
			return k
		}
	}
	return nil
}

// location returns the version list of key, creating an empty one from
// wm's memory. Only writes create locations.
func (mv *mvMemory) location(wm *workerMem, key string) *mvKey {
	h := maphash.String(mv.seed, key)
	b := mv.bucket(h)
	head := b.Load()
	if k := find(head, h, key); k != nil {
		return k
	}
	k := wm.keys.one()
	k.key, k.hash = key, h
	k.es = k.one[:0]
	for {
		k.next = head
		if b.CompareAndSwap(head, k) {
			return k
		}
		// Another worker linked a location meanwhile, maybe this one.
		old := head
		head = b.Load()
		for o := head; o != old; o = o.next {
			if o.hash == h && o.key == key {
				*k = mvKey{} // never published; the bump hands out zeroed memory
				return o
			}
		}
	}
}

// lookup returns the version list of key, or nil if it was never created.
func (mv *mvMemory) lookup(key []byte) *mvKey {
	h := maphash.Bytes(mv.seed, key)
	return find(mv.bucket(h).Load(), h, string(key))
}

// lookupString is lookup for a string key.
func (mv *mvMemory) lookupString(key string) *mvKey {
	h := maphash.String(mv.seed, key)
	return find(mv.bucket(h).Load(), h, key)
}

// record is MVMemory.record (with apply_write_set and
// rcu_update_written_locations): it publishes an incarnation's write set and
// read set, removes entries the previous incarnation wrote but this one did
// not, and reports whether a location not written by the previous
// incarnation was written (the scheduler must then revalidate higher
// transactions).
//
// The published sets are allocated from wm, the calling worker's memory;
// reads is copied.
func (mv *mvMemory) record(wm *workerMem, txn, inc int32, reads []readDesc, writes map[string]wentry) bool {
	locs := wm.locs.take(len(writes))[:0]
	reads = append(wm.reads.take(len(reads))[:0], reads...)
	for key, w := range writes {
		k := mv.location(wm, key)
		k.write(txn, inc, w.v, w.del)
		locs = append(locs, k)
	}
	// A read from storage of a location this incarnation then wrote can
	// point at the location, sparing validation a lookup.
	if len(locs) <= 16 {
		for i := range reads {
			if reads[i].k != nil {
				continue
			}
			for _, k := range locs {
				if k.key == reads[i].key {
					reads[i].k, reads[i].key = k, ""
					break
				}
			}
		}
	}
	kept := 0
	if prev := mv.sets[txn].p.Load(); prev != nil {
		for _, k := range prev.written {
			if _, ok := writes[k.key]; ok {
				kept++
			} else {
				k.remove(txn)
			}
		}
	}
	rec := wm.recs.one()
	rec.written, rec.reads = locs, reads
	mv.sets[txn].p.Store(rec)
	return len(locs) > kept
}

// convertWritesToEstimates is MVMemory.convert_writes_to_estimates.
func (mv *mvMemory) convertWritesToEstimates(txn int32) {
	if rec := mv.sets[txn].p.Load(); rec != nil {
		for _, k := range rec.written {
			k.markEstimate(txn)
		}
	}
}

// validateReadSet is MVMemory.validate_read_set: every location txn read
// must still resolve to the same version.
func (mv *mvMemory) validateReadSet(txn int32) bool {
	rec := mv.sets[txn].p.Load()
	if rec == nil {
		return false // never recorded: cannot be valid
	}
	for _, rd := range rec.reads {
		k := rd.k
		if k == nil {
			if k = mv.lookupString(rd.key); k == nil {
				continue // still never written: still a storage read
			}
		}
		cur := k.read(txn)
		switch cur.status {
		case readEstimate:
			return false
		case readNotFound:
			if rd.txn != storageVersion {
				return false
			}
		case readOK:
			if cur.txn != rd.txn || cur.inc != rd.inc {
				return false
			}
		}
	}
	return true
}

// snapshot is MVMemory.snapshot: the block's write set, the last version of
// every location written below n, sorted by key. Deletions have nil values.
// Like the serial executor's, the result is never nil. Only once every
// worker has stopped: it reads without locking. w goroutines each build
// the part of a range of buckets; the sorted parts are then merged.
func (mv *mvMemory) snapshot(n int32, w int) []exec.Write {
	w = max(1, min(w, len(mv.buckets)))
	parts := make([][]exec.Write, w)
	parallel(w, func(g int) { parts[g] = mv.snapshotPart(n, g, w, nil) })
	return mergeParts(parts)
}

// snapshotPart is the sorted write set of the locations in the g-th of w
// equal ranges of buckets.
// Only once no transaction executes any more: it reads without locking.
// Scratch memory comes from buf, which may be nil.
func (mv *mvMemory) snapshotPart(n int32, g, w int, buf *sortBuf) []exec.Write {
	if buf == nil {
		buf = &sortBuf{}
	}
	keys, vals := buf.keys[:0], buf.vals[:0]
	nb := len(mv.buckets)
	for i := g * nb / w; i < (g+1)*nb/w; i++ {
		for k := mv.buckets[i].Load(); k != nil; k = k.next {
			if e := k.latestBelow(n); e != nil {
				keys = append(keys, k.key)
				vals = append(vals, e)
			}
		}
	}
	buf.keys, buf.vals = keys, vals
	return sortedWriteSet(keys, buf, func(i int32) ([]byte, bool) { return vals[i].val, vals[i].del })
}

// mergeParts merges sorted write sets with distinct keys.
func mergeParts(parts [][]exec.Write) []exec.Write {
	for len(parts) > 1 {
		var next [][]exec.Write
		for i := 0; i < len(parts); i += 2 {
			if i+1 == len(parts) {
				next = append(next, parts[i])
			} else {
				next = append(next, mergeWrites(parts[i], parts[i+1]))
			}
		}
		parts = next
	}
	return parts[0]
}

// latestBelow is the entry of the highest transaction below n, or nil.
// Only once every worker has stopped: it reads without locking.
func (k *mvKey) latestBelow(n int32) *mvEntry {
	i := k.search(n)
	if i == 0 {
		return nil
	}
	e := &k.es[i-1]
	if e.estimate {
		panic("blockstm: estimate left after the parallel phase")
	}
	return e
}

// flatten returns the writes of transactions below n as a plain overlay.
// Only once every worker has stopped.
func (mv *mvMemory) flatten(n int32) map[string]wentry {
	m := make(map[string]wentry)
	for i := range mv.buckets {
		for k := mv.buckets[i].Load(); k != nil; k = k.next {
			if e := k.latestBelow(n); e != nil {
				m[k.key] = wentry{v: e.val, del: e.del}
			}
		}
	}
	return m
}

// sortedWrites is an overlay's writes sorted by key, like the serial
// executor's write set.
func sortedWrites(m map[string]wentry) []exec.Write {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return sortedWriteSet(keys, nil, func(i int32) ([]byte, bool) {
		e := m[keys[i]]
		return e.v, e.del
	})
}

// sortedWriteSet returns the writes of the distinct keys, sorted, with
// value(i) giving keys[i]'s value or deletion.
func sortedWriteSet(keys []string, buf *sortBuf, value func(int32) ([]byte, bool)) []exec.Write {
	idx := sortKeys(keys, buf)
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	// One allocation for all keys; capacities are clipped so that no key
	// can grow into the next.
	arena := make([]byte, 0, size)
	ws := make([]exec.Write, len(idx))
	for j, i := range idx {
		start := len(arena)
		arena = append(arena, keys[i]...)
		ws[j].Key = arena[start:len(arena):len(arena)]
		if v, del := value(i); !del {
			ws[j].Value = v
		}
	}
	return ws
}

// mergeRange is worker g of w's share of merging parts, sorted write sets
// with distinct keys, into out. The key space is cut at quantiles of the
// largest part; worker g merges the keys between its cut points, which go
// to out after the smaller keys of every part.
func mergeRange(out []exec.Write, parts [][]exec.Write, g, w int) {
	big := parts[0]
	for _, p := range parts {
		if len(p) > len(big) {
			big = p
		}
	}
	if len(big) == 0 {
		return
	}
	var lo, hi []byte // the range is [lo, hi); nil is unbounded
	if g > 0 {
		lo = big[g*len(big)/w].Key
	}
	if g < w-1 {
		hi = big[(g+1)*len(big)/w].Key
	}
	bound := func(p []exec.Write, k []byte) int {
		if k == nil {
			return len(p)
		}
		i, _ := slices.BinarySearchFunc(p, k, func(e exec.Write, k []byte) int { return bytes.Compare(e.Key, k) })
		return i
	}
	heads := make([][]exec.Write, 0, len(parts))
	at := 0
	for _, p := range parts {
		from := 0
		if lo != nil {
			from = bound(p, lo)
		}
		at += from
		if p = p[from:bound(p, hi)]; len(p) > 0 {
			heads = append(heads, p)
		}
	}
	for len(heads) > 0 {
		m := 0
		for j := 1; j < len(heads); j++ {
			if bytes.Compare(heads[j][0].Key, heads[m][0].Key) < 0 {
				m = j
			}
		}
		out[at] = heads[m][0]
		at++
		if heads[m] = heads[m][1:]; len(heads[m]) == 0 {
			heads = append(heads[:m], heads[m+1:]...)
		}
	}
}

// mergeWrites merges two write lists sorted by distinct keys.
func mergeWrites(a, b []exec.Write) []exec.Write {
	out := make([]exec.Write, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if bytes.Compare(a[0].Key, b[0].Key) < 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// parallel runs f(0..w-1), f(0) on the calling goroutine, and waits.
func parallel(w int, f func(g int)) {
	var wg sync.WaitGroup
	for g := 1; g < w; g++ {
		wg.Go(func() { f(g) })
	}
	f(0)
	wg.Wait()
}
