// Package proof defines self-contained proof bundles and verifies them with
// no node and no database: a certified header (header, commit certificate,
// the validator set it names) plus either a transaction with its receipt and
// Merkle audit paths, or a state key with its sparse Merkle proof. Bundles
// have a canonical binary encoding: changing any byte makes them fail, with
// one true exception — an absence proof also proves absence for any other
// key whose path ends in the same empty subtree, so changing the key of an
// absence bundle may yield a bundle that verifies for that other absent key.
package proof

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/merkle"
	"github.com/polityledger/polity/chain/smt"
)

// Bundle kinds.
const (
	KindTx    byte = 1
	KindState byte = 2
)

const (
	version     = 1 // bundles without validator set changes
	versionSets = 2 // bundles carrying the changes from an earlier set
	maxSMTProof = 16 << 10
	maxValue    = 256 << 10 // module.MaxValueLen
	maxBundle   = chain.MaxTxSize + maxValue + chain.MaxCommitSize + 128<<10
)

// Errors from Decode and Verify.
var (
	ErrMalformed = errors.New("proof: malformed bundle")
	ErrInvalid   = errors.New("proof: does not verify")
	ErrUntrusted = errors.New("proof: header certified by an untrusted validator set")
)

// Certified is a header with what certifies it.
type Certified struct {
	Suite      string
	Header     chain.Header
	Commit     chain.Commit
	Validators chain.ValidatorSet
	// Anchor and Transitions, when the chain's validator set has changed
	// since Anchor (its genesis set), carry every change up to the set
	// that certified Header, so a client trusting any of those sets can
	// follow the chain of changes to the header's.
	Anchor      *chain.ValidatorSet
	Transitions []Transition
}

// Transition is a validator set change decided at Header.Height: the
// header, certified by the set before the change, proves in its state that
// the set from the next height on is Next.
type Transition struct {
	Header chain.Header
	Commit chain.Commit
	Next   chain.ValidatorSet
	Path   *smt.Proof // of valset.Key() holding Next's encoding, under Header.StateRoot
}

// Bundle is a proof of a transaction's inclusion and receipt (KindTx) or of a
// state key's value or absence (KindState) under a certified header.
type Bundle struct {
	Kind byte
	Certified

	// KindTx
	Tx          *chain.Tx
	Receipt     *chain.Receipt
	Index       uint64
	TxPath      []crypto.Hash
	ReceiptPath []crypto.Hash

	// KindState
	Key       []byte
	ValueHash *crypto.Hash // nil proves absence
	Value     []byte       // optional; must hash to ValueHash
	StatePath *smt.Proof
}

// Encode returns the canonical encoding.
func (b *Bundle) Encode() ([]byte, error) {
	w := codec.NewWriter(1024)
	if b.Anchor == nil && len(b.Transitions) == 0 {
		w.Byte(version)
	} else {
		w.Byte(versionSets)
	}
	w.Byte(b.Kind)
	w.String(b.Suite)
	w.VarBytes(b.Header.Encode())
	w.VarBytes(b.Commit.Encode())
	w.VarBytes(b.Validators.Encode())
	if err := b.encodeTransitions(w); err != nil {
		return nil, err
	}
	switch b.Kind {
	case KindTx:
		if b.Tx == nil || b.Receipt == nil {
			return nil, fmt.Errorf("%w: tx bundle without tx or receipt", ErrMalformed)
		}
		w.VarBytes(b.Tx.Encode())
		w.VarBytes(b.Receipt.Encode())
		w.Uint(b.Index)
		writePath(w, b.TxPath)
		writePath(w, b.ReceiptPath)
	case KindState:
		if b.StatePath == nil {
			return nil, fmt.Errorf("%w: state bundle without proof", ErrMalformed)
		}
		w.VarBytes(b.Key)
		w.Bool(b.ValueHash != nil)
		if b.ValueHash != nil {
			w.Fixed(b.ValueHash[:])
			w.VarBytes(b.Value)
		}
		p, err := b.StatePath.MarshalBinary()
		if err != nil {
			return nil, err
		}
		w.VarBytes(p)
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, b.Kind)
	}
	return w.Bytes(), nil
}

func writePath(w *codec.Writer, p []crypto.Hash) {
	w.Uint(uint64(len(p)))
	for _, h := range p {
		w.Fixed(h[:])
	}
}

func readPath(r *codec.Reader, field string) []crypto.Hash {
	n := r.UintMax(field, merkle.MaxPath)
	var out []crypto.Hash
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var h crypto.Hash
		r.Hash32(field, (*[32]byte)(&h))
		out = append(out, h)
	}
	return out
}

// Decode strictly decodes a bundle.
func Decode(data []byte) (*Bundle, error) {
	if len(data) > maxBundle+maxTransitionsSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	r := codec.NewReader(data)
	v := r.Byte("version")
	if r.Err() == nil && v != version && v != versionSets {
		r.Failf("version", "unsupported %d", v)
	}
	if v == version && len(data) > maxBundle {
		r.Failf("version", "%d bytes", len(data))
	}
	b := &Bundle{Kind: r.Byte("kind")}
	b.Suite = r.String("suite", chain.MaxNameLen)
	hdr := r.VarBytes("header", 1024)
	cmt := r.VarBytes("commit", chain.MaxCommitSize)
	vals := r.VarBytes("validators", maxSetSize)
	var trs *rawTransitions
	if v == versionSets {
		trs = readTransitions(r)
	}
	var tx, rc, sp []byte
	switch b.Kind {
	case KindTx:
		tx = r.VarBytes("tx", chain.MaxTxSize)
		rc = r.VarBytes("receipt", 1<<20)
		b.Index = r.UintMax("index", chain.MaxBlockTxs)
		b.TxPath = readPath(r, "tx_path")
		b.ReceiptPath = readPath(r, "receipt_path")
	case KindState:
		b.Key = r.VarBytes("key", 1024)
		if r.Bool("present") {
			var vh crypto.Hash
			r.Hash32("value_hash", (*[32]byte)(&vh))
			b.ValueHash = &vh
			b.Value = r.VarBytes("value", maxValue)
		}
		sp = r.VarBytes("state_proof", maxSMTProof)
	default:
		if r.Err() == nil {
			r.Failf("kind", "unknown %d", b.Kind)
		}
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var err error
	parts := []func() error{
		func() error { h, err := chain.DecodeHeader(hdr); b.Header = deref(h); return err },
		func() error { c, err := chain.DecodeCommit(cmt); b.Commit = derefC(c); return err },
		func() error { v, err := chain.DecodeValidatorSet(vals); b.Validators = derefV(v); return err },
	}
	if trs != nil {
		parts = append(parts, func() error { return b.decodeTransitions(trs) })
	}
	switch b.Kind {
	case KindTx:
		parts = append(parts,
			func() error { b.Tx, err = chain.DecodeTx(tx); return err },
			func() error { b.Receipt, err = chain.DecodeReceipt(rc); return err })
	case KindState:
		parts = append(parts, func() error { b.StatePath = new(smt.Proof); return b.StatePath.UnmarshalBinary(sp) })
	}
	for _, p := range parts {
		if err := p(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	// Canonical form: re-encoding must give the input back.
	if again, err := b.Encode(); err != nil || !bytes.Equal(again, data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return b, nil
}

func deref(h *chain.Header) chain.Header {
	if h == nil {
		return chain.Header{}
	}
	return *h
}

func derefC(c *chain.Commit) chain.Commit {
	if c == nil {
		return chain.Commit{}
	}
	return *c
}

func derefV(v *chain.ValidatorSet) chain.ValidatorSet {
	if v == nil {
		return chain.ValidatorSet{}
	}
	return *v
}

// Options for Verify.
type Options struct {
	// TrustedValidators, when non-zero, is the hash of the only validator set
	// accepted (a light client's trust anchor). Zero trusts the set in the
	// bundle, which proves only that the set's quorum signed.
	TrustedValidators crypto.Hash
}

// Result summarises what a verified bundle proves.
type Result struct {
	ChainID        string
	Height         uint64
	HeaderHash     crypto.Hash
	ValidatorsHash crypto.Hash
	TxID           crypto.Hash  // KindTx
	Status         chain.Status // KindTx
	Present        bool         // KindState
}

// Verify checks that a certified header is certified by a trusted set
// (directly or through its transitions) and carries no unsigned engine
// metadata. The result's kind-specific fields are left zero.
func (c *Certified) Verify(o Options) (*Result, error) {
	s, err := suites.ByName(c.Suite)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := c.Validators.Validate(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(c.Commit.Meta) != 0 {
		return nil, fmt.Errorf("%w: certificate carries unsigned engine metadata", ErrInvalid)
	}
	if err := c.verifyTransitions(s, o.TrustedValidators); err != nil {
		return nil, err
	}
	if err := chain.VerifyCommit(s, &c.Validators, &c.Header, &c.Commit); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &Result{ChainID: c.Header.ChainID, Height: c.Header.Height, HeaderHash: c.Header.Hash(s), ValidatorsHash: c.Validators.Hash(s)}, nil
}

// Verify checks the certificate and the Merkle paths of a bundle.
func Verify(b *Bundle, o Options) (*Result, error) {
	res, err := b.Certified.Verify(o)
	if err != nil {
		return nil, err
	}
	s, _ := suites.ByName(b.Suite) // Certified.Verify resolved it
	switch b.Kind {
	case KindTx:
		// Tx IDs exclude the signature, so the root does not cover it: check it.
		if err := b.Tx.Verify(s); err != nil {
			return nil, fmt.Errorf("%w: transaction signature: %w", ErrInvalid, err)
		}
		id := b.Tx.ID(s)
		if b.Tx.ChainID != b.Header.ChainID || b.Receipt.TxID != id {
			return nil, fmt.Errorf("%w: receipt or transaction for another chain or tx", ErrInvalid)
		}
		if err := merkle.Verify(s, b.Header.TxRoot, merkle.LeafHash(s, id[:]), b.Index, b.Header.TxCount, b.TxPath); err != nil {
			return nil, fmt.Errorf("%w: transaction not in block: %w", ErrInvalid, err)
		}
		if err := merkle.Verify(s, b.Header.ReceiptsRoot, merkle.LeafHash(s, b.Receipt.Encode()), b.Index, b.Header.TxCount, b.ReceiptPath); err != nil {
			return nil, fmt.Errorf("%w: receipt not in block: %w", ErrInvalid, err)
		}
		res.TxID, res.Status = id, b.Receipt.Status
	case KindState:
		if b.ValueHash != nil && b.Value != nil && s.Hash(b.Value) != *b.ValueHash {
			return nil, fmt.Errorf("%w: value does not match its hash", ErrInvalid)
		}
		if err := smt.Verify(s, b.Header.StateRoot, chain.StateKeyHash(s, b.Key), b.ValueHash, b.StatePath); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		res.Present = b.ValueHash != nil
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, b.Kind)
	}
	return res, nil
}
