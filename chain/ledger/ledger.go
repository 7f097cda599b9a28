// Package ledger stores one chain on Pebble: headers with their commit
// certificates, compressed block bodies and receipts, a transaction index,
// the latest state, and the sparse Merkle tree nodes behind every state root.
// A block commits in one synced Pebble batch, so a crash at any point leaves
// the ledger at a whole block. It is the only package that imports Pebble.
package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/zstd"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/smt"
)

// Errors returned by the ledger.
var (
	ErrNotFound        = errors.New("not found")
	ErrGenesisMismatch = errors.New("stored genesis differs from the configured one")
	ErrNotNext         = errors.New("block does not extend the head")
	ErrCorrupt         = errors.New("ledger data corrupt")
	ErrPruned          = errors.New("state at that height is pruned")
	// ErrBlockPruned is returned for a block, its receipts or certificate
	// below the ledger's base: retention deleted it, or the ledger began
	// from a snapshot above it.
	ErrBlockPruned = errors.New("block is pruned")
)

// Key prefixes. Heights are 8-byte big-endian so keys sort by height.
const (
	pMeta    = 'm' // m/head → height; m/genesis → genesis document
	pHeader  = 'h' // h/height → header encoding
	pCommit  = 'c' // c/height → commit certificate
	pBody    = 'b' // b/height → zstd(tx list)
	pReceipt = 'r' // r/height → zstd(receipt list)
	pTx      = 't' // t/txid → height, index
	pState   = 's' // s/key → value (latest)
	pNode    = 'n' // n/hash → sparse Merkle node || 8-byte height of the block that created it
	pStale   = 'x' // x/height → hashes of the nodes that went stale at height (earlier: x/height/hash → nothing)
	pValset  = 'v' // v/hash → validator set encoding (every set the chain has had)
	pChange  = 'u' // u/height → validator set change decided at height (Change)
)

var (
	keyHead    = []byte("m/head")
	keyGenesis = []byte("m/genesis")
)

// Options tunes a ledger. The zero value uses the OS filesystem.
type Options struct {
	FS vfs.FS // nil: the OS filesystem; tests pass vfs.NewCrashableMem()
	// NodeCache is how many state-tree nodes (≈100 bytes each) to keep in
	// memory per generation; 0 means DefaultNodeCache.
	NodeCache int
	// StateHistory is how many heights below the head keep their state
	// trees, so that state at those heights can be proven; older tree nodes
	// are deleted as the chain grows. Blocks, receipts and their proofs are
	// kept unless RetainBlocks is set. 0 means DefaultStateHistory.
	StateHistory uint64
	// RetainBlocks, if not 0, is how many blocks below and including the
	// head keep their body, receipts and certificate; older ones are
	// deleted in the commit that passes them (headers and certificates of
	// validator set changes, and the genesis, stay). At least
	// MinRetainBlocks.
	RetainBlocks uint64
}

// MinRetainBlocks is the least RetainBlocks: peers catching up by block
// sync need some blocks below the head.
const MinRetainBlocks = 16

// DefaultStateHistory keeps state provable for about the last hour of
// blocks at one block a second.
const DefaultStateHistory = 4096

// DefaultNodeCache keeps up to 2 × 100k nodes (≈ 20 MB) per chain.
const DefaultNodeCache = 100_000

// Ledger is one chain's store. Reads are safe concurrently with one writer;
// Commit must be called by one goroutine at a time.
type Ledger struct {
	dir   string
	opts  Options
	suite crypto.Suite
	tree  *smt.Tree
	zenc  *zstd.Encoder
	zdec  *zstd.Decoder
	nodes *nodeCache
	keep  uint64 // Options.StateHistory

	// swap guards db: every use holds it shared, Replace exclusively.
	swap sync.RWMutex
	// pub: Commit makes its batch readable and moves the head holding it
	// exclusively, getPublished reads holding it shared. Head, Height and Base
	// (under mu) do not wait for a commit's fsync.
	pub   sync.RWMutex
	hot   headCache // state read at the head; see headCache
	db    *pebble.DB
	snaps atomic.Int64 // open StateSnapshots, which Replace waits for

	mu struct {
		sync.RWMutex
		head   chain.Header
		hash   crypto.Hash
		base   uint64
		inited bool
	}
}

// Open opens (creating if needed) the ledger in dir.
func Open(dir string, suite crypto.Suite, o Options) (*Ledger, error) {
	if o.RetainBlocks != 0 && o.RetainBlocks < MinRetainBlocks {
		return nil, fmt.Errorf("open ledger %s: retain_blocks %d is below %d (0 keeps every block)", dir, o.RetainBlocks, MinRetainBlocks)
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if err := finishReplace(o.FS, dir); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	db, err := openDB(dir, o)
	if err != nil {
		return nil, err
	}
	// SpeedFastest: on a block of 500 signed transfers it took half the
	// time of SpeedDefault (0.85 vs 1.74 ms for the bodies, 0.54 vs 0.92 ms
	// for the receipts) for the same ratio (0.66 / 0.60); the commit is on
	// consensus's critical path (docs/benchmarks.md).
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		db.Close()
		return nil, err
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(chain.MaxBlockSize*2))
	if err != nil {
		db.Close()
		return nil, err
	}
	if o.NodeCache == 0 {
		o.NodeCache = DefaultNodeCache
	}
	if o.StateHistory == 0 {
		o.StateHistory = DefaultStateHistory
	}
	l := &Ledger{dir: dir, opts: o, db: db, suite: suite, zenc: zenc, zdec: zdec, nodes: newNodeCache(o.NodeCache), keep: o.StateHistory}
	l.tree = smt.New(suite, nodeReader{l})
	if err := l.loadHead(db); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func openDB(dir string, o Options) (*pebble.DB, error) {
	db, err := pebble.Open(dir, storeOptions(o))
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	return db, nil
}

// storeOptions tunes Pebble for what a ledger writes: block bodies and
// receipts it compressed itself, hash-addressed tree nodes and transaction
// IDs. Pebble's own compression of those saved ~7 % of table bytes
// (BenchmarkDiskPerTx: 0.61× vs 0.57× canonical) for CPU in every flush and
// compaction, so tables are stored uncompressed; a 16 MiB memtable (Pebble
// preallocates about that much write-ahead log per ledger) lets overwritten
// state values die before a flush and makes fewer, larger L0 tables.
// docs/benchmarks.md has the measurements.
func storeOptions(o Options) *pebble.Options {
	opts := &pebble.Options{FS: o.FS, Logger: quietLogger{}, MemTableSize: 16 << 20}
	for i := range opts.Levels {
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	return opts
}

// Close flushes and closes the store.
func (l *Ledger) Close() error {
	l.swap.Lock()
	defer l.swap.Unlock()
	l.zdec.Close()
	return l.db.Close()
}

// Suite returns the chain's crypto suite.
func (l *Ledger) Suite() crypto.Suite { return l.suite }

func (l *Ledger) get(key []byte) ([]byte, error) {
	l.swap.RLock()
	defer l.swap.RUnlock()
	return getFrom(l.db, key)
}

// getPublished reads key from the same side of a commit as Head (see
// pub), so a reader never sees a block's state or index without its head
// and each other (admission once found a nonce used while the transaction
// that used it was not found). Lock order: swap, pub, mu.
func (l *Ledger) getPublished(key []byte) ([]byte, error) {
	l.swap.RLock()
	defer l.swap.RUnlock()
	l.pub.RLock()
	defer l.pub.RUnlock()
	return getFrom(l.db, key)
}

// store returns the Pebble store for the one writer (Init, Commit,
// Restore), which never runs concurrently with Replace.
func (l *Ledger) store() *pebble.DB {
	l.swap.RLock()
	defer l.swap.RUnlock()
	return l.db
}

func getFrom(db *pebble.DB, key []byte) ([]byte, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

func heightKey(p byte, h uint64) []byte {
	k := make([]byte, 10)
	k[0], k[1] = p, '/'
	binary.BigEndian.PutUint64(k[2:], h)
	return k
}

func prefixed(p byte, b []byte) []byte {
	k := make([]byte, 0, 2+len(b))
	k = append(k, p, '/')
	return append(k, b...)
}

// loadHead reads the head and base from db into memory.
func (l *Ledger) loadHead(db *pebble.DB) error {
	if _, err := getFrom(db, keyRestoring); err == nil {
		return ErrRestoring
	}
	v, err := getFrom(db, keyHead)
	if errors.Is(err, ErrNotFound) {
		return nil // empty: Init writes genesis
	}
	if err != nil {
		return err
	}
	if len(v) != 8 {
		return fmt.Errorf("%w: head pointer of %d bytes", ErrCorrupt, len(v))
	}
	hv, err := getFrom(db, heightKey(pHeader, binary.BigEndian.Uint64(v)))
	if err != nil {
		return fmt.Errorf("%w: head header: %w", ErrCorrupt, err)
	}
	h, err := chain.DecodeHeader(hv)
	if err != nil {
		return fmt.Errorf("%w: head header: %w", ErrCorrupt, err)
	}
	base := uint64(0)
	switch bv, err := getFrom(db, keyBase); {
	case err == nil && len(bv) == 8:
		base = binary.BigEndian.Uint64(bv)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: base pointer (%v)", ErrCorrupt, err)
	}
	l.setHead(h)
	l.setBase(base)
	return nil
}

// Init writes the genesis block if the ledger is empty, or checks that the
// stored genesis equals g.
func (l *Ledger) Init(g *chain.Genesis) error {
	enc := g.Encode()
	stored, err := l.get(keyGenesis)
	switch {
	case err == nil:
		if !bytes.Equal(stored, enc) {
			return fmt.Errorf("%w: chain %s", ErrGenesisMismatch, g.ChainID)
		}
		// Ledgers written before sets were stored lack the genesis set.
		return l.store().Set(prefixed(pValset, g.Header(l.suite, crypto.Hash{}).ValidatorsHash[:]), g.Validators.Encode(), pebble.Sync)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	b := l.store().NewBatch()
	defer b.Close()
	h := l.putGenesis(b, g)
	_ = b.Set(keyHead, heightKey(pHeader, 0)[2:], nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	l.setHead(h)
	return nil
}

// putGenesis writes the genesis document, its header and empty
// certificate at height 0, and its validator set into b; it returns the
// genesis header.
func (l *Ledger) putGenesis(b *pebble.Batch, g *chain.Genesis) *chain.Header {
	h := g.Header(l.suite, crypto.Hash{})
	_ = b.Set(keyGenesis, g.Encode(), nil)
	_ = b.Set(heightKey(pHeader, 0), h.Encode(), nil)
	_ = b.Set(heightKey(pCommit, 0), (&chain.Commit{}).Encode(), nil)
	_ = b.Set(prefixed(pValset, h.ValidatorsHash[:]), g.Validators.Encode(), nil)
	return h
}

// setHead makes h the head in memory, after it is durable.
func (l *Ledger) setHead(h *chain.Header) {
	l.mu.Lock()
	l.mu.head, l.mu.hash, l.mu.inited = *h, h.Hash(l.suite), true
	l.mu.Unlock()
}

// Genesis returns the stored genesis document.
func (l *Ledger) Genesis() (*chain.Genesis, error) {
	v, err := l.get(keyGenesis)
	if err != nil {
		return nil, err
	}
	return chain.DecodeGenesis(v)
}

// Head returns the latest committed header and its hash.
func (l *Ledger) Head() (chain.Header, crypto.Hash) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.head, l.mu.hash
}

// Height is the latest committed height.
func (l *Ledger) Height() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.head.Height
}

// Get returns the latest committed value of a state key, or nil.
// It implements exec.State.
func (l *Ledger) Get(key []byte) ([]byte, error) {
	l.swap.RLock()
	defer l.swap.RUnlock()
	l.pub.RLock()
	defer l.pub.RUnlock()
	if v, ok := l.hot.get(key); ok {
		return bytes.Clone(v), nil
	}
	v, err := getFrom(l.db, prefixed(pState, key))
	switch {
	case errors.Is(err, ErrNotFound):
		v = nil
	case err != nil:
		return nil, err
	}
	l.hot.put(key, v)
	return bytes.Clone(v), nil
}

var _ exec.State = (*Ledger)(nil)

// Header returns the header and certificate at height h.
func (l *Ledger) Header(h uint64) (*chain.Header, *chain.Commit, error) {
	hv, err := l.get(heightKey(pHeader, h))
	if err != nil {
		return nil, nil, fmt.Errorf("header %d: %w", h, l.pruned(h, err))
	}
	hdr, err := chain.DecodeHeader(hv)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header %d: %w", ErrCorrupt, h, err)
	}
	cv, err := l.get(heightKey(pCommit, h))
	if err != nil {
		return nil, nil, fmt.Errorf("commit %d: %w", h, l.pruned(h, err))
	}
	c, err := chain.DecodeCommit(cv)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: commit %d: %w", ErrCorrupt, h, err)
	}
	return hdr, c, nil
}

// Block returns the whole block at height h.
func (l *Ledger) Block(h uint64) (*chain.Block, error) {
	if err := l.checkBase(h); err != nil {
		return nil, err
	}
	hdr, c, err := l.Header(h)
	if err != nil {
		return nil, err
	}
	b := &chain.Block{Header: *hdr, Commit: *c}
	if hdr.TxCount == 0 {
		return b, nil
	}
	raw, err := l.getCompressed(heightKey(pBody, h))
	if err != nil {
		return nil, fmt.Errorf("body %d: %w", h, l.pruned(h, err))
	}
	items, err := splitList(raw, int(hdr.TxCount), chain.MaxTxSize)
	if err != nil {
		return nil, fmt.Errorf("%w: body %d: %w", ErrCorrupt, h, err)
	}
	for _, it := range items {
		tx, err := chain.DecodeTx(it)
		if err != nil {
			return nil, fmt.Errorf("%w: body %d: %w", ErrCorrupt, h, err)
		}
		b.Txs = append(b.Txs, tx)
	}
	return b, nil
}

// Receipts returns the receipts of block h, in transaction order.
func (l *Ledger) Receipts(h uint64) ([]*chain.Receipt, error) {
	if err := l.checkBase(h); err != nil {
		return nil, err
	}
	hdr, _, err := l.Header(h)
	if err != nil {
		return nil, err
	}
	if hdr.TxCount == 0 {
		return nil, nil
	}
	raw, err := l.getCompressed(heightKey(pReceipt, h))
	if err != nil {
		return nil, fmt.Errorf("receipts %d: %w", h, l.pruned(h, err))
	}
	items, err := splitList(raw, int(hdr.TxCount), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%w: receipts %d: %w", ErrCorrupt, h, err)
	}
	out := make([]*chain.Receipt, len(items))
	for i, it := range items {
		if out[i], err = chain.DecodeReceipt(it); err != nil {
			return nil, fmt.Errorf("%w: receipts %d: %w", ErrCorrupt, h, err)
		}
	}
	return out, nil
}

// TxLocation returns the height and index of a committed transaction.
func (l *Ledger) TxLocation(id crypto.Hash) (uint64, int, error) {
	v, err := l.getPublished(prefixed(pTx, id[:]))
	if err != nil {
		return 0, 0, err
	}
	if len(v) < 9 {
		return 0, 0, fmt.Errorf("%w: tx index entry", ErrCorrupt)
	}
	idx, n := binary.Uvarint(v[8:])
	if n != len(v)-8 || idx >= chain.MaxBlockTxs {
		return 0, 0, fmt.Errorf("%w: tx index entry", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v[:8]), int(idx), nil
}

func (l *Ledger) getCompressed(key []byte) ([]byte, error) {
	l.swap.RLock()
	defer l.swap.RUnlock()
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return l.zdec.DecodeAll(v, nil)
}

// joinList concatenates length-prefixed items.
func joinList(items [][]byte) []byte {
	n := 0
	for _, it := range items {
		n += len(it) + binary.MaxVarintLen32
	}
	out := make([]byte, 0, n)
	for _, it := range items {
		out = binary.AppendUvarint(out, uint64(len(it)))
		out = append(out, it...)
	}
	return out
}

// splitList reverses joinList, expecting exactly n items of at most max bytes.
func splitList(b []byte, n, max int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for len(b) > 0 {
		sz, k := binary.Uvarint(b)
		if k <= 0 || sz > uint64(max) || sz > uint64(len(b)-k) {
			return nil, io.ErrUnexpectedEOF
		}
		out = append(out, b[k:k+int(sz)])
		b = b[k+int(sz):]
	}
	if len(out) != n {
		return nil, fmt.Errorf("%d items, want %d", len(out), n)
	}
	return out, nil
}

type nodeReader struct{ l *Ledger }

func (r nodeReader) Node(h crypto.Hash) ([]byte, error) {
	if v, ok := r.l.nodes.get(h); ok {
		return v, nil
	}
	v, err := r.l.get(prefixed(pNode, h[:]))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", smt.ErrMissingNode, h)
	}
	if err != nil {
		return nil, err
	}
	if len(v) == storedNodeSize {
		v = v[:smt.NodeSize] // drop the creation height
	}
	r.l.nodes.put(h, v)
	return v, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
