// Package exec executes ordered blocks of transactions against committed
// state and returns receipts and a sorted write set. The serial executor here
// is the reference semantics; a parallel executor must produce byte-identical
// results behind the same interface.
package exec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
)

// State is the committed state a block executes on. Get returns (nil, nil)
// for an absent key and must be safe for concurrent use. Returned slices are
// not modified by the executor.
type State interface {
	Get(key []byte) ([]byte, error)
}

// Write is one entry of a block's write set; a nil Value deletes the key.
type Write struct {
	Key, Value []byte
}

// Result is the outcome of a block.
type Result struct {
	Txs      []*chain.Tx      // the transactions included, in order
	Receipts []*chain.Receipt // one per included transaction
	Writes   []Write          // sorted by key, each key once
	Dropped  []Dropped        // build mode only: rejected transactions
}

// Dropped is a transaction left out of a block being built, with the reason.
type Dropped struct {
	Tx  *chain.Tx
	Err error
}

// Mode selects how invalid transactions are handled.
type Mode int

const (
	// Verify fails the whole block on an invalid transaction (a block from
	// a proposer must contain none).
	Verify Mode = iota
	// Build drops invalid transactions, for a proposer assembling a block.
	Build
)

// Errors making a transaction invalid for a block (as opposed to failed).
var (
	ErrInvalidBlock = errors.New("invalid block")
	ErrBadNonce     = errors.New("bad nonce")
	ErrExpired      = errors.New("transaction expired")
	ErrWrongChain   = errors.New("transaction for another chain")
)

// Executor runs a block. Implementations must be deterministic: the same
// block on the same state yields byte-identical results on every node.
type Executor interface {
	Execute(b module.Block, txs []*chain.Tx, st State, mode Mode) (*Result, error)
}

// Config is what every executor needs.
type Config struct {
	Suite       crypto.Suite
	Registry    *module.Registry
	TxWorkLimit uint64
}

// Serial executes transactions one after another in block order.
type Serial struct{ cfg Config }

var _ Executor = (*Serial)(nil)

// NewSerial returns the reference executor.
func NewSerial(cfg Config) *Serial {
	if cfg.TxWorkLimit == 0 {
		cfg.TxWorkLimit = module.DefaultTxWorkLimit
	}
	return &Serial{cfg: cfg}
}

// NonceKey is the state key of an address's next nonce.
func NonceKey(a chain.Address) []byte {
	return module.StateKey(module.SystemNamespace, append([]byte("nonce/"), a[:]...))
}

// DecodeNonce parses a stored nonce; absent means 0.
func DecodeNonce(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	n, k := binary.Uvarint(v)
	if k != len(v) {
		return 0, fmt.Errorf("corrupt nonce value %x", v)
	}
	return n, nil
}

// Execute implements Executor.
func (s *Serial) Execute(b module.Block, txs []*chain.Tx, st State, mode Mode) (*Result, error) {
	blk := newOverlay(st)
	res := &Result{}
	for i, tx := range txs {
		rc, err := ApplyTx(s.cfg, b, tx, blk)
		if err != nil {
			if mode == Verify {
				return nil, fmt.Errorf("%w: tx %d: %w", ErrInvalidBlock, i, err)
			}
			res.Dropped = append(res.Dropped, Dropped{Tx: tx, Err: err})
			continue
		}
		res.Txs = append(res.Txs, tx)
		res.Receipts = append(res.Receipts, rc)
	}
	res.Writes = blk.sorted()
	return res, nil
}

// ApplyTx executes one transaction against kv, writing its effects there.
// An error means the transaction is invalid in this position and kv is
// untouched; a module failure yields a receipt with StatusFailed.
func ApplyTx(cfg Config, b module.Block, tx *chain.Tx, kv *Overlay) (*chain.Receipt, error) {
	if tx.ChainID != b.ChainID {
		return nil, ErrWrongChain
	}
	if tx.Expiry != 0 && b.Height > tx.Expiry {
		return nil, fmt.Errorf("%w at height %d", ErrExpired, tx.Expiry)
	}
	sender := tx.SenderAddress(cfg.Suite)
	nk := NonceKey(sender)
	raw, err := kv.Get(nk)
	if err != nil {
		return nil, err
	}
	want, err := DecodeNonce(raw)
	if err != nil {
		return nil, err
	}
	if tx.Nonce != want {
		return nil, fmt.Errorf("%w: got %d, want %d", ErrBadNonce, tx.Nonce, want)
	}
	rc := &chain.Receipt{TxID: tx.ID(cfg.Suite)}
	txkv := newOverlay(kv)
	meter := module.NewMeter(cfg.TxWorkLimit)
	ctx := module.NewContext(b, sender, tx.Sender, tx.Module, txkv, meter)
	if err := call(cfg.Registry, ctx, meter, tx); err != nil {
		rc.Status = chain.StatusFailed
		rc.Error = ReceiptError(err)
	} else {
		txkv.flushTo(kv)
		rc.Events = ctx.Events()
	}
	rc.WorkUsed = meter.Used()
	var nb [binary.MaxVarintLen64]byte // Set copies the value
	kv.Set(nk, binary.AppendUvarint(nb[:0], want+1))
	return rc, nil
}

func call(reg *module.Registry, ctx *module.Context, m *module.Meter, tx *chain.Tx) (err error) {
	if err := m.Charge(module.CostTx + uint64(len(tx.Args))*module.CostTxByte); err != nil {
		return err
	}
	h, err := reg.Lookup(tx.Module, tx.Method)
	if err != nil {
		return err
	}
	defer func() {
		// A panicking module fails its transaction, not the node. The panic
		// value is deterministic for deterministic modules.
		if p := recover(); p != nil {
			err = fmt.Errorf("module panic: %v", p)
		}
	}()
	return h(ctx, tx.Args)
}

// ReceiptError is err's text as a receipt can carry it: every rune the
// codec's strings refuse (control characters, invalid UTF-8, U+FFFD) replaced
// by '?', and cut at a rune boundary to at most chain.MaxErrorLen bytes.
// Module errors may quote transaction arguments, so without this a sender
// could make a block's receipts undecodable.
func ReceiptError(err error) string {
	s := strings.Map(func(r rune) rune {
		if !codec.Printable(string(r)) {
			return '?'
		}
		return r
	}, err.Error())
	if len(s) <= chain.MaxErrorLen {
		return s
	}
	n := chain.MaxErrorLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Overlay buffers writes over a State. It is not safe for concurrent use.
type Overlay struct {
	base interface{ Get([]byte) ([]byte, error) }
	m    map[string]entry
}

type entry struct {
	v   []byte
	del bool
}

func newOverlay(base interface{ Get([]byte) ([]byte, error) }) *Overlay {
	return &Overlay{base: base, m: make(map[string]entry)}
}

// NewOverlay returns an empty overlay on st.
func NewOverlay(st State) *Overlay { return newOverlay(st) }

// Get reads through the overlay.
func (o *Overlay) Get(k []byte) ([]byte, error) {
	if e, ok := o.m[string(k)]; ok {
		if e.del {
			return nil, nil
		}
		return e.v, nil
	}
	return o.base.Get(k)
}

// Set buffers a write.
func (o *Overlay) Set(k, v []byte) { o.m[string(k)] = entry{v: bytes.Clone(v)} }

// Delete buffers a deletion.
func (o *Overlay) Delete(k []byte) { o.m[string(k)] = entry{del: true} }

func (o *Overlay) flushTo(dst *Overlay) {
	for k, e := range o.m {
		dst.m[k] = e
	}
}

func (o *Overlay) sorted() []Write {
	ws := make([]Write, 0, len(o.m))
	for k, e := range o.m {
		w := Write{Key: []byte(k)}
		if !e.del {
			w.Value = e.v
		}
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return bytes.Compare(ws[i].Key, ws[j].Key) < 0 })
	return ws
}
