// Package chain holds Polity's ledger data types — transactions, blocks,
// headers, receipts, validator sets — and their canonical encodings.
// Everything here is deterministic and free of I/O.
package chain

import (
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Size limits enforced by every decoder and by Validate.
const (
	MaxChainIDLen   = 64
	MaxSenderLen    = 256
	MaxPubKeyLen    = 128
	MaxNameLen      = 64
	MaxArgsLen      = 64 << 10
	MaxSignatureLen = 128
	MaxTxSize       = MaxArgsLen + 1024
)

// TxVersion is the only transaction encoding version understood.
const TxVersion = 1

// Errors returned by transaction validation.
var (
	ErrTxMalformed  = errors.New("malformed transaction")
	ErrBadSignature = errors.New("bad signature")
	ErrWrongSender  = errors.New("sender does not match public key")
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// ValidName reports whether s may name a chain, module or method.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// Tx is a signed transaction envelope. Fields are set by the client; the
// chain ID and nonce make it unreplayable across chains and within one.
type Tx struct {
	ChainID string // target chain; signed, so a tx cannot be replayed elsewhere
	Sender  string // verification-method ID of the signing key (DID URL)
	PubKey  []byte // the signing public key in the chain suite's encoding
	Nonce   uint64 // per-sender sequence number, starting at 0
	Module  string
	Method  string
	Args    []byte
	Expiry  uint64 // last block height at which the tx may be included; 0 = none
	Sig     []byte

	memo atomic.Pointer[txMemo] // ID and sender address, see memoized
}

// txMemo is what ID and SenderAddress computed for one Tx value under one
// suite. owner tells a copied Tx (whose fields may then change) from the
// one the memo was made for.
type txMemo struct {
	owner *Tx
	suite string
	id    crypto.Hash
	addr  Address
}

// Clone returns a copy of tx to change: the same fields (sharing their
// byte slices) without tx's memo.
func (tx *Tx) Clone() *Tx {
	return &Tx{ChainID: tx.ChainID, Sender: tx.Sender, PubKey: tx.PubKey, Nonce: tx.Nonce, Module: tx.Module,
		Method: tx.Method, Args: tx.Args, Expiry: tx.Expiry, Sig: tx.Sig}
}

// memoized returns tx's ID and sender address under s, computing both on
// first use. Taking either freezes the signed fields: a Tx must not be
// changed after its ID or sender address is taken, except by Sign. A
// node derives both several times per transaction (admission, ordering,
// execution, receipts), and each derivation encodes the body and hashes it.
func (tx *Tx) memoized(s crypto.Suite) *txMemo {
	if m := tx.memo.Load(); m != nil && m.owner == tx && m.suite == s.Name() {
		return m
	}
	m := &txMemo{owner: tx, suite: s.Name(), id: s.Hash(tx.SigningBytes()), addr: AddressOf(s, tx.PubKey)}
	tx.memo.Store(m)
	return m
}

func (tx *Tx) encodeBody(w *codec.Writer) {
	w.Byte(TxVersion)
	w.String(tx.ChainID)
	w.String(tx.Sender)
	w.VarBytes(tx.PubKey)
	w.Uint(tx.Nonce)
	w.String(tx.Module)
	w.String(tx.Method)
	w.VarBytes(tx.Args)
	w.Uint(tx.Expiry)
}

// txDomain separates transaction signatures from every other signed message.
var txDomain = []byte("polity/tx/v1\x00")

// SigningBytes is the message a sender signs: a domain tag and every field but Sig.
func (tx *Tx) SigningBytes() []byte {
	w := codec.NewWriter(len(txDomain) + 64 + len(tx.Args) + len(tx.PubKey) + len(tx.Sender))
	w.Fixed(txDomain)
	tx.encodeBody(w)
	return w.Bytes()
}

// ID is the transaction's identifier: the suite hash of its signing bytes.
// It excludes the signature, so two signatures over one body are one tx.
// It is computed once (see memoized).
func (tx *Tx) ID(s crypto.Suite) crypto.Hash { return tx.memoized(s).id }

// SenderAddress is AddressOf(s, tx.PubKey), computed once (see memoized).
func (tx *Tx) SenderAddress(s crypto.Suite) Address { return tx.memoized(s).addr }

// Encode returns the canonical encoding.
func (tx *Tx) Encode() []byte {
	w := codec.NewWriter(64 + len(tx.Args) + len(tx.PubKey) + len(tx.Sender) + len(tx.Sig))
	tx.encodeBody(w)
	w.VarBytes(tx.Sig)
	return w.Bytes()
}

func (tx *Tx) decode(r *codec.Reader) {
	if v := r.Byte("tx.version"); r.Err() == nil && v != TxVersion {
		r.Failf("tx.version", "unsupported version %d", v)
	}
	tx.ChainID = r.String("tx.chain_id", MaxChainIDLen)
	tx.Sender = r.String("tx.sender", MaxSenderLen)
	tx.PubKey = r.VarBytes("tx.pubkey", MaxPubKeyLen)
	tx.Nonce = r.Uint("tx.nonce")
	tx.Module = r.String("tx.module", MaxNameLen)
	tx.Method = r.String("tx.method", MaxNameLen)
	tx.Args = r.VarBytes("tx.args", MaxArgsLen)
	tx.Expiry = r.Uint("tx.expiry")
	tx.Sig = r.VarBytes("tx.sig", MaxSignatureLen)
}

// DecodeTx strictly decodes one transaction. The result aliases b.
func DecodeTx(b []byte) (*Tx, error) {
	if len(b) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrTxMalformed, len(b), MaxTxSize)
	}
	tx := new(Tx)
	r := codec.NewReader(b)
	tx.decode(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTxMalformed, err)
	}
	return tx, nil
}

// CheckFields validates what can be checked without keys: names and sizes.
func (tx *Tx) CheckFields() error {
	switch {
	case !ValidName(tx.ChainID):
		return fmt.Errorf("%w: chain_id %q is not a valid name", ErrTxMalformed, tx.ChainID)
	case !ValidName(tx.Module):
		return fmt.Errorf("%w: module %q is not a valid name", ErrTxMalformed, tx.Module)
	case !ValidName(tx.Method):
		return fmt.Errorf("%w: method %q is not a valid name", ErrTxMalformed, tx.Method)
	case len(tx.PubKey) == 0 || len(tx.PubKey) > MaxPubKeyLen:
		return fmt.Errorf("%w: public key missing or too long", ErrTxMalformed)
	case len(tx.Sig) == 0 || len(tx.Sig) > MaxSignatureLen:
		return fmt.Errorf("%w: signature missing or too long", ErrTxMalformed)
	case len(tx.Args) > MaxArgsLen:
		return fmt.Errorf("%w: args exceed %d bytes", ErrTxMalformed, MaxArgsLen)
	case len(tx.Sender) > MaxSenderLen || !codec.Printable(tx.Sender):
		return fmt.Errorf("%w: sender is too long or not printable", ErrTxMalformed)
	}
	return nil
}

// Verify checks fields, that Sender is the implicit DID URL of PubKey, and
// the signature, under suite s.
func (tx *Tx) Verify(s crypto.Suite) error {
	pk, err := tx.checkSigner(s)
	if err != nil {
		return err
	}
	if !pk.Verify(tx.SigningBytes(), tx.Sig) {
		return ErrBadSignature
	}
	return nil
}

// checkSigner does every check of Verify but the signature's.
func (tx *Tx) checkSigner(s crypto.Suite) (crypto.PublicKey, error) {
	if err := tx.CheckFields(); err != nil {
		return nil, err
	}
	pk, err := s.PublicKey(tx.PubKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	// Derived afresh, not from the memo: this check must not rest on
	// callers keeping the memo's rule.
	if !isKeyDID(tx.Sender, AddressOf(s, tx.PubKey)) {
		return nil, fmt.Errorf("%w: want %s", ErrWrongSender, KeyDID(s, tx.PubKey))
	}
	return pk, nil
}

// VerifyTxs checks each transaction as Verify does, with the signatures in
// one batch when the suite supports it; errs[i] is txs[i]'s result.
func VerifyTxs(s crypto.Suite, txs []*Tx) (errs []error) {
	errs = make([]error, len(txs))
	items := make([]crypto.SigItem, 0, len(txs))
	idx := make([]int, 0, len(txs))
	for i, tx := range txs {
		pk, err := tx.checkSigner(s)
		if err != nil {
			errs[i] = err
			continue
		}
		items = append(items, crypto.SigItem{Key: pk, Msg: tx.SigningBytes(), Sig: tx.Sig})
		idx = append(idx, i)
	}
	for j, ok := range crypto.VerifyAll(s, items) {
		if !ok {
			errs[idx[j]] = ErrBadSignature
		}
	}
	return errs
}

// Sign fills PubKey, Sender and Sig from k.
func (tx *Tx) Sign(s crypto.Suite, k crypto.PrivateKey) error {
	tx.memo.Store(nil)
	tx.PubKey = k.Public().Bytes()
	tx.Sender = KeyDID(s, tx.PubKey)
	sig, err := k.Sign(tx.SigningBytes())
	if err != nil {
		return err
	}
	tx.Sig = sig
	return nil
}

// Address is an account: the first 20 bytes of the suite hash of a public key.
type Address [20]byte

func (a Address) String() string { return hex.EncodeToString(a[:]) }

// AddressOf derives the account address of a public key.
func AddressOf(s crypto.Suite, pub []byte) Address {
	h := s.Hash([]byte("polity/address\x00"), pub)
	var a Address
	copy(a[:], h[:20])
	return a
}

// KeyDID is the self-certifying verification-method ID of a bare key:
// did:polity:<address>#key-0. Registered DIDs with rotation come from the
// identity chain.
func KeyDID(s crypto.Suite, pub []byte) string {
	return keyDIDPrefix + AddressOf(s, pub).String() + keyDIDSuffix
}

// The key DID's fixed parts, around the address in hex.
const keyDIDPrefix, keyDIDSuffix = "did:polity:", "#key-0"

// isKeyDID reports whether id is the key DID of address a, without
// building the string.
func isKeyDID(id string, a Address) bool {
	hexAddr, ok := strings.CutPrefix(id, keyDIDPrefix)
	if ok {
		hexAddr, ok = strings.CutSuffix(hexAddr, keyDIDSuffix)
	}
	var h [2 * len(Address{})]byte
	if !ok || len(hexAddr) != len(h) {
		return false
	}
	hex.Encode(h[:], a[:])
	return hexAddr == string(h[:])
}

// ParseAddress decodes a 40-character hex address.
func ParseAddress(s string) (Address, error) {
	var a Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("address must be %d hex characters", 2*len(a))
	}
	copy(a[:], b)
	return a, nil
}
