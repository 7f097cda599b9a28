package blockstm

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
)

// This file is the VM of Block-STM (Gelashvili et al., PPoPP 2023,
// Algorithm 3): one incarnation of a transaction runs with reads resolved
// through its own write buffer, then MVMemory, then committed storage, and
// every read is recorded with the version it observed. Its semantics are
// exec.ApplyTx's, statement for statement.

// blocked is the panic value that unwinds a module out of a read that hit an
// ESTIMATE (the paper's READ_ERROR).
type blocked struct{}

// txKV is the module.KV of one incarnation.
type txKV struct {
	r        *blockRun
	txn      int32
	writes   map[string]wentry
	reads    []readDesc
	blocking int32             // the aborted writer whose ESTIMATE was read, or -1
	tail     map[string]wentry // the serial tail's overlay, if running it
}

// read resolves key for this incarnation; ok is false on READ_ERROR. In the
// serial tail (t.tail set) reads go to the tail's overlay, then storage, and
// are not recorded.
func (t *txKV) read(key []byte) (v []byte, err error, ok bool) {
	if w, hit := t.writes[string(key)]; hit {
		if w.del {
			return nil, nil, true
		}
		return w.v, nil, true
	}
	if t.tail != nil {
		if w, hit := t.tail[string(key)]; hit {
			if w.del {
				return nil, nil, true
			}
			return w.v, nil, true
		}
		v, err := t.r.st.Get(key)
		return v, err, true
	}
	k := t.r.mv.lookup(key)
	if k == nil {
		t.reads = append(t.reads, readDesc{key: string(key), txn: storageVersion})
		v, err := t.r.st.Get(key)
		return v, err, true
	}
	res := k.read(t.txn)
	switch res.status {
	case readEstimate:
		t.blocking = res.txn
		return nil, nil, false
	case readNotFound:
		t.reads = append(t.reads, readDesc{k: k, txn: storageVersion})
		v, err := t.r.st.Get(key)
		return v, err, true
	}
	t.reads = append(t.reads, readDesc{k: k, txn: res.txn, inc: res.inc})
	if res.del {
		return nil, nil, true
	}
	return res.val, nil, true
}

// Get implements module.KV. Once the incarnation has read an ESTIMATE it
// keeps unwinding the module, even one that recovers panics.
func (t *txKV) Get(key []byte) ([]byte, error) {
	if t.blocking >= 0 {
		panic(blocked{})
	}
	v, err, ok := t.read(key)
	if !ok {
		panic(blocked{})
	}
	return v, err
}

// Set implements module.KV.
func (t *txKV) Set(key, value []byte) { t.writes[string(key)] = wentry{v: bytes.Clone(value)} }

// Delete implements module.KV.
func (t *txKV) Delete(key []byte) { t.writes[string(key)] = wentry{del: true} }

// execute runs the current incarnation of txn (VM.execute). It returns the
// read and write sets, or blocking >= 0 on READ_ERROR. The transaction's
// outcome (receipt or invalidity) is left in r.out[txn]. The write set is
// built in scratch (emptied first) and the read set appended to rs[:0];
// the caller may reuse both once the sets are recorded. With tail set, txn
// runs in the serial tail on that overlay instead of on MVMemory, and no
// read set is kept.
func (r *blockRun) execute(txn int32, scratch map[string]wentry, rs []readDesc, tail map[string]wentry) (reads []readDesc, writes map[string]wentry, blocking int32) {
	o := &r.out[txn]
	o.rc, o.invalid = nil, nil
	if err := r.static[txn]; err != nil {
		o.invalid = err
		return nil, nil, -1
	}
	tx := r.txs[txn]
	if !o.prepared {
		o.sender = tx.SenderAddress(r.cfg.Suite)
		o.nonceKey = exec.NonceKey(o.sender)
		o.id = tx.ID(r.cfg.Suite)
		o.prepared = true
	}
	clear(scratch)
	t := &txKV{r: r, txn: txn, writes: scratch, blocking: -1, tail: tail}
	if tail == nil {
		t.reads = rs[:0]
	}
	raw, err, ok := t.read(o.nonceKey)
	if !ok {
		return nil, nil, t.blocking
	}
	if err != nil {
		o.invalid = err
		return t.reads, nil, -1
	}
	want, err := exec.DecodeNonce(raw)
	if err != nil {
		o.invalid = err
		return t.reads, nil, -1
	}
	if tx.Nonce != want {
		o.invalid = fmt.Errorf("%w: got %d, want %d", exec.ErrBadNonce, tx.Nonce, want)
		return t.reads, nil, -1
	}
	rc := &chain.Receipt{TxID: o.id}
	meter := module.NewMeter(r.cfg.TxWorkLimit)
	ctx := module.NewContext(r.b, o.sender, tx.Sender, tx.Module, t, meter)
	err = call(r.cfg.Registry, ctx, meter, tx)
	if t.blocking >= 0 {
		return nil, nil, t.blocking
	}
	if err != nil {
		rc.Status = chain.StatusFailed
		rc.Error = exec.ReceiptError(err)
		clear(t.writes) // a failed transaction only advances its nonce
	} else {
		rc.Events = ctx.Events()
	}
	rc.WorkUsed = meter.Used()
	t.writes[string(o.nonceKey)] = wentry{v: binary.AppendUvarint(nil, want+1)}
	o.rc = rc
	return t.reads, t.writes, -1
}

// staticCheck is the state-independent part of exec.ApplyTx, in its order.
func staticCheck(b module.Block, tx *chain.Tx) error {
	if tx.ChainID != b.ChainID {
		return exec.ErrWrongChain
	}
	if tx.Expiry != 0 && b.Height > tx.Expiry {
		return fmt.Errorf("%w at height %d", exec.ErrExpired, tx.Expiry)
	}
	return nil
}

// call is exec's call: charge the base cost, look up the handler, and turn
// a panic into a failure. During a speculative incarnation a module may also
// panic because it saw an inconsistent state, or because a read hit an
// ESTIMATE; the first is a result that validation will reject, the second
// is detected by the caller through txKV.blocking.
func call(reg *module.Registry, ctx *module.Context, m *module.Meter, tx *chain.Tx) (err error) {
	if err := m.Charge(module.CostTx + uint64(len(tx.Args))*module.CostTxByte); err != nil {
		return err
	}
	h, err := reg.Lookup(tx.Module, tx.Method)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(blocked); ok {
				err = errBlocked
				return
			}
			err = fmt.Errorf("module panic: %v", p)
		}
	}()
	return h(ctx, tx.Args)
}

var errBlocked = fmt.Errorf("blockstm: read of an estimate")
