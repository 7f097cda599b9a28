package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/smt"
	"github.com/polityledger/polity/chain/valset"
)

// A snapshot stream is the magic, one length-prefixed certified part (the
// head block in full with its certificate, its receipts, and the validator
// set changes up to it), then the state entries in key order, each a
// length-prefixed key and value, ended by an empty key and the entry count.
// The restoring node trusts none of it: the certified part must verify
// from its genesis, and the entries must rebuild the head's state root.
const snapshotMagic = "polity-snapshot\x00\x01"

// Bounds on a snapshot's certified part.
const (
	maxSnapshotHead = 2*chain.MaxBlockSize + 64<<20
)

// ErrBadSnapshot wraps every reason a snapshot stream is refused.
var ErrBadSnapshot = errors.New("invalid snapshot")

// WriteSnapshot writes the chain's state at the current head, with what
// certifies it, to w, and returns the head's height. The chain keeps
// committing meanwhile; the snapshot stays at that head.
func (r *Replica) WriteSnapshot(w io.Writer) (uint64, error) {
	ss, err := r.led.SnapshotState()
	if err != nil {
		return 0, err
	}
	defer ss.Close()
	h := ss.Height
	b, err := r.led.Block(h)
	if err != nil {
		return 0, err
	}
	rcs, err := r.led.Receipts(h)
	if err != nil {
		return 0, err
	}
	// Changes up to and including one the head decides.
	anchor, trs, err := r.transitions(h + 1)
	if err != nil {
		return 0, err
	}
	trEnc, err := (&proof.Certified{Anchor: anchor, Transitions: trs}).EncodeTransitions()
	if err != nil {
		return 0, err
	}
	cw := codec.NewWriter(1 << 16)
	cw.VarBytes(b.Encode())
	cw.Uint(uint64(len(rcs)))
	for _, rc := range rcs {
		cw.VarBytes(rc.Encode())
	}
	cw.VarBytes(trEnc)
	bw := bufio.NewWriterSize(w, 1<<16)
	var n [binary.MaxVarintLen64]byte
	uv := func(x uint64) { bw.Write(n[:binary.PutUvarint(n[:], x)]) }
	bw.WriteString(snapshotMagic)
	uv(uint64(len(cw.Bytes())))
	bw.Write(cw.Bytes())
	var count uint64
	err = ss.Each(func(k, v []byte) error {
		uv(uint64(len(k)))
		bw.Write(k)
		uv(uint64(len(v)))
		_, err := bw.Write(v)
		count++
		return err
	})
	if err != nil {
		return 0, err
	}
	uv(0)
	uv(count)
	return h, bw.Flush()
}

// RestoreSnapshot fills cfg.Dir, which must not exist or be empty, with the
// chain restored from a snapshot stream verified against cfg.Genesis: the
// head's certificate by the genesis set or through certified changes from
// it, its transactions and receipts against the header, and the state
// against its state root. It returns the restored height; the node then
// continues from the next block by sync. On error nothing is left in
// cfg.Dir.
func RestoreSnapshot(cfg Config, rd io.Reader) (height uint64, err error) {
	if err := cfg.Genesis.Validate(cfg.Suite); err != nil {
		return 0, err
	}
	if ents, err := os.ReadDir(cfg.Dir); err == nil && len(ents) > 0 {
		return 0, fmt.Errorf("restore into %s: directory is not empty", cfg.Dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	br := bufio.NewReaderSize(rd, 1<<16)
	res, err := readSnapshotHead(br, cfg)
	if err != nil {
		return 0, err
	}
	led, err := ledger.Open(cfg.Dir, cfg.Suite, cfg.Ledger)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := led.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.RemoveAll(cfg.Dir)
		}
	}()
	entries := &entryReader{r: br}
	if res.Head.Header.Height == 0 {
		if err := led.Init(cfg.Genesis); err != nil {
			return 0, err
		}
		if k, _, err := entries.next(); err != nil || k != nil {
			return 0, fmt.Errorf("%w: state entries at height 0 (%v)", ErrBadSnapshot, err)
		}
	} else if err := led.Restore(res, entries.next); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if err := entries.end(); err != nil {
		return 0, err
	}
	return res.Head.Header.Height, nil
}

// readSnapshotHead reads and verifies the certified part.
func readSnapshotHead(br *bufio.Reader, cfg Config) (*ledger.Restore, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a Polity snapshot (version 1)", ErrBadSnapshot)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxSnapshotHead {
		return nil, fmt.Errorf("%w: certified part of %d bytes (%v)", ErrBadSnapshot, n, err)
	}
	raw, err := io.ReadAll(io.LimitReader(br, int64(n)))
	if err != nil || uint64(len(raw)) != n {
		return nil, fmt.Errorf("%w: certified part cut short (%v)", ErrBadSnapshot, err)
	}
	return decodeSnapshotHead(raw, cfg)
}

func decodeSnapshotHead(raw []byte, cfg Config) (*ledger.Restore, error) {
	s, g := cfg.Suite, cfg.Genesis
	r := codec.NewReader(raw)
	blockEnc := r.VarBytes("block", chain.MaxBlockSize)
	nrc := r.UintMax("receipts", chain.MaxBlockTxs)
	rcEncs := make([][]byte, 0, min(nrc, 1024))
	for i := uint64(0); i < nrc && r.Err() == nil; i++ {
		rcEncs = append(rcEncs, r.VarBytes("receipt", chain.MaxBlockSize))
	}
	trEnc := r.VarBytes("transitions", len(raw))
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	b, err := chain.DecodeBlock(blockEnc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	res := &ledger.Restore{Genesis: g, Head: b}
	for _, e := range rcEncs {
		rc, err := chain.DecodeReceipt(e)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		res.Receipts = append(res.Receipts, rc)
	}
	var trs proof.Certified
	if err := trs.DecodeTransitions(trEnc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	h := &b.Header
	if h.ChainID != g.ChainID {
		return nil, fmt.Errorf("%w: head of chain %q", ErrBadSnapshot, h.ChainID)
	}
	if h.Height == 0 {
		// A chain with no block yet: the snapshot is its genesis.
		if *h != *g.Header(s, crypto.Hash{}) || len(b.Txs) > 0 || len(res.Receipts) > 0 || len(trEnc) > 0 {
			return nil, fmt.Errorf("%w: height 0 is not this chain's genesis", ErrBadSnapshot)
		}
		return res, nil
	}
	// The changes before the head lead from the genesis set to the head's
	// certifying set; one the head itself decides is checked against its
	// state root below.
	cert := proof.Certified{Suite: s.Name(), Header: *h, Commit: b.Commit, Validators: g.Validators}
	cert.Commit.Meta = nil // engine data, not signed; kept in the restored block
	var atHead *proof.Transition
	for i, t := range trs.Transitions {
		switch {
		case t.Header.Height < h.Height:
			cert.Transitions = append(cert.Transitions, t)
		case t.Header.Height == h.Height && i == len(trs.Transitions)-1:
			atHead = &trs.Transitions[i]
		default:
			return nil, fmt.Errorf("%w: validator set change at %d after the head %d", ErrBadSnapshot, t.Header.Height, h.Height)
		}
	}
	if len(cert.Transitions) > 0 {
		cert.Anchor = trs.Anchor
		cert.Validators = cert.Transitions[len(cert.Transitions)-1].Next
	}
	if _, err := cert.Verify(proof.Options{TrustedValidators: g.Validators.Hash(s)}); err != nil {
		return nil, fmt.Errorf("%w: head certificate: %w", ErrBadSnapshot, err)
	}
	if atHead != nil {
		next := s.Hash(atHead.Next.Encode())
		if atHead.Header != *h || smt.Verify(s, h.StateRoot, chain.StateKeyHash(s, valset.Key()), &next, atHead.Path) != nil {
			return nil, fmt.Errorf("%w: the head's validator set change does not verify", ErrBadSnapshot)
		}
		cert.Transitions = append(cert.Transitions, *atHead)
	}
	ids := b.TxIDs(s)
	if chain.TxRoot(s, ids) != h.TxRoot || len(res.Receipts) != len(ids) {
		return nil, fmt.Errorf("%w: head transactions or receipts do not match the header", ErrBadSnapshot)
	}
	for i, err := range chain.VerifyTxs(s, b.Txs) {
		if err != nil || res.Receipts[i].TxID != ids[i] {
			return nil, fmt.Errorf("%w: head transaction %d: signature or receipt (%v)", ErrBadSnapshot, i, err)
		}
	}
	for _, t := range cert.Transitions {
		t.Commit.Meta = nil
		res.Changes = append(res.Changes, ledger.CertifiedChange{Header: t.Header, Commit: t.Commit,
			Change: ledger.Change{Height: t.Header.Height, Set: &t.Next, Key: valset.Key(), Proof: t.Path}})
	}
	return res, nil
}

// entryReader yields a snapshot's state entries.
type entryReader struct {
	r     *bufio.Reader
	count uint64
}

func (e *entryReader) next() ([]byte, []byte, error) {
	k, err := e.field(ledger.MaxRestoreKey)
	if err != nil || len(k) == 0 {
		return nil, nil, err
	}
	v, err := e.field(ledger.MaxRestoreVal)
	if err != nil {
		return nil, nil, err
	}
	e.count++
	return k, v, nil
}

func (e *entryReader) field(max uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(e.r)
	if err != nil || n > max {
		return nil, fmt.Errorf("%w: entry %d: length %d (%v)", ErrBadSnapshot, e.count, n, err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(e.r, b); err != nil {
		return nil, fmt.Errorf("%w: entry %d cut short", ErrBadSnapshot, e.count)
	}
	return b, nil
}

// end checks the trailer: the entry count, then nothing.
func (e *entryReader) end() error {
	n, err := binary.ReadUvarint(e.r)
	if err != nil || n != e.count {
		return fmt.Errorf("%w: trailer says %d entries, read %d (%v)", ErrBadSnapshot, n, e.count, err)
	}
	if _, err := e.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after the trailer", ErrBadSnapshot)
	}
	return nil
}
