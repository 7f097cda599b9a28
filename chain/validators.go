package chain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Validator is one consenter: an ID unique in its set and a public key in the
// chain's suite.
type Validator struct {
	ID     string `json:"id"`
	PubKey []byte `json:"pub_key"`
}

// ValidatorSet is the ordered list of validators certifying a chain's headers.
// Signatures in a Commit refer to validators by index in this order.
type ValidatorSet struct {
	Validators []Validator `json:"validators"`
	// CrashFaultOnly marks a set whose chain is ordered by a crash-fault
	// tolerant engine (Raft): certificates need a majority, n/2+1, instead of
	// the Byzantine quorum. The flag is part of the set's encoding and so of
	// its hash: a light client trusting the hash trusts the rule with it.
	CrashFaultOnly bool `json:"crash_fault_only,omitempty"`
}

// Errors about certificates.
var (
	ErrNoQuorum      = errors.New("commit certificate lacks a quorum of valid signatures")
	ErrCertMismatch  = errors.New("commit certificate is for another header")
	ErrBadValidators = errors.New("invalid validator set")
)

// Quorum is the number of signatures a certificate needs: for n = 3f+1
// validators tolerating f Byzantine ones, 2f+1 (ceil((n+f+1)/2) in general);
// for a crash-fault-only set, a majority n/2+1 (Raft's commit quorum: any
// two majorities intersect, Ongaro & Ousterhout 2014, section 5).
func (vs *ValidatorSet) Quorum() int {
	n := len(vs.Validators)
	if vs.CrashFaultOnly {
		return n/2 + 1
	}
	f := (n - 1) / 3
	return (n+f)/2 + 1
}

// Vouchers is how many validators must make the same claim before a node
// may act on it without a certificate: f+1 on a Byzantine-tolerant set (one
// of them is honest), one on a crash-fault-only set (nobody lies).
func (vs *ValidatorSet) Vouchers() int {
	if vs.CrashFaultOnly {
		return 1
	}
	return len(vs.Validators) - vs.Quorum() + 1
}

// cftTag opens the version-2 encoding of a crash-fault-only set. The
// version-1 encoding (every Byzantine set, unchanged so their hashes stay)
// opens with the validator count, at most MaxValidators, so the tag cannot
// be mistaken for one. After the tag: the quorum rule, then as version 1.
const (
	cftTag       = 1 << 20
	ruleMajority = 1
)

var cftTagBytes = binary.AppendUvarint(nil, cftTag)

// Encode returns the canonical encoding.
func (vs *ValidatorSet) Encode() []byte {
	w := codec.NewWriter(64 * len(vs.Validators))
	if vs.CrashFaultOnly {
		w.Uint(cftTag)
		w.Byte(ruleMajority)
	}
	w.Uint(uint64(len(vs.Validators)))
	for _, v := range vs.Validators {
		w.String(v.ID)
		w.VarBytes(v.PubKey)
	}
	return w.Bytes()
}

// DecodeValidatorSet strictly decodes a validator set.
func DecodeValidatorSet(b []byte) (*ValidatorSet, error) {
	r := codec.NewReader(b)
	vs := &ValidatorSet{}
	if bytes.HasPrefix(b, cftTagBytes) {
		r.Fixed("validators.tag", len(cftTagBytes))
		if rule := r.Byte("validators.rule"); r.Err() == nil && rule != ruleMajority {
			r.Failf("validators.rule", "unknown quorum rule %d", rule)
		}
		vs.CrashFaultOnly = true
	}
	n := r.UintMax("validators.count", MaxValidators)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		vs.Validators = append(vs.Validators, Validator{
			ID:     r.String("validator.id", MaxValidatorID),
			PubKey: r.VarBytes("validator.pub_key", MaxPubKeyLen),
		})
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadValidators, err)
	}
	return vs, nil
}

// Hash is the value committed in headers' ValidatorsHash.
func (vs *ValidatorSet) Hash(s crypto.Suite) crypto.Hash { return s.Hash(vs.Encode()) }

// Validate checks the set is non-empty, bounded, with unique IDs and keys
// that parse in suite s.
func (vs *ValidatorSet) Validate(s crypto.Suite) error {
	if len(vs.Validators) == 0 || len(vs.Validators) > MaxValidators {
		return fmt.Errorf("%w: %d validators (want 1..%d)", ErrBadValidators, len(vs.Validators), MaxValidators)
	}
	seen := make(map[string]bool, len(vs.Validators))
	for _, v := range vs.Validators {
		if v.ID == "" || len(v.ID) > MaxValidatorID || !codec.Printable(v.ID) || seen[v.ID] {
			return fmt.Errorf("%w: validator id %q empty, too long or repeated", ErrBadValidators, v.ID)
		}
		seen[v.ID] = true
		if _, err := s.PublicKey(v.PubKey); err != nil {
			return fmt.Errorf("%w: validator %s: %w", ErrBadValidators, v.ID, err)
		}
	}
	return nil
}

// Index returns the position of validator id, or -1.
func (vs *ValidatorSet) Index(id string) int {
	for i, v := range vs.Validators {
		if v.ID == id {
			return i
		}
	}
	return -1
}

// Commit is a header's certificate: signatures of validators over
// SignedMessage(chain, height, header hash, aux), plus the consensus
// engine's metadata for the decision (not signed by the certificate: it is
// what the engine needs to resume, e.g. SmartBFT's view and sequence).
type Commit struct {
	Sigs []CommitSig
	Meta []byte
}

// CommitSig is one validator's signature, by index in the validator set.
// Aux is engine data the validator signed with the header (SmartBFT's
// "prepares from" list); empty for solo.
type CommitSig struct {
	Index uint32
	Sig   []byte
	Aux   []byte
}

// Limits on certificate fields.
const (
	MaxCommitAux  = 1024
	MaxCommitMeta = 4096
	// MaxCommitSize bounds an encoded certificate.
	MaxCommitSize = MaxValidators*(MaxSignatureLen+MaxCommitAux+16) + MaxCommitMeta + 16
)

var commitDomain = []byte("polity/commit/v1\x00")

// CommitMessage is what validators sign to certify a header.
func CommitMessage(chainID string, height uint64, header crypto.Hash) []byte {
	w := codec.NewWriter(len(commitDomain) + len(chainID) + 48)
	w.Fixed(commitDomain)
	w.String(chainID)
	w.Uint(height)
	w.Fixed(header[:])
	return w.Bytes()
}

// SignedMessage is the exact message behind a CommitSig: CommitMessage, then
// the length-prefixed aux when there is any.
func SignedMessage(chainID string, height uint64, header crypto.Hash, aux []byte) []byte {
	m := CommitMessage(chainID, height, header)
	if len(aux) == 0 {
		return m
	}
	w := codec.Writer{}
	w.Fixed(m)
	w.VarBytes(aux)
	return w.Bytes()
}

func (c *Commit) encode(w *codec.Writer) {
	w.Uint(uint64(len(c.Sigs)))
	for _, s := range c.Sigs {
		w.Uint(uint64(s.Index))
		w.VarBytes(s.Sig)
		w.VarBytes(s.Aux)
	}
	w.VarBytes(c.Meta)
}

func (c *Commit) decode(r *codec.Reader) {
	n := r.UintMax("commit.count", MaxValidators)
	c.Sigs = nil
	last := -1
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		idx := r.UintMax("commit.index", MaxValidators-1)
		sig := r.VarBytes("commit.sig", MaxSignatureLen)
		aux := r.VarBytes("commit.aux", MaxCommitAux)
		if r.Err() == nil && int(idx) <= last {
			r.Failf("commit.index", "indices must be strictly increasing")
		}
		last = int(idx)
		c.Sigs = append(c.Sigs, CommitSig{Index: uint32(idx), Sig: sig, Aux: aux})
	}
	c.Meta = r.VarBytes("commit.meta", MaxCommitMeta)
}

// Encode returns the canonical encoding of the certificate alone.
func (c *Commit) Encode() []byte {
	w := codec.NewWriter(8 + 80*len(c.Sigs) + len(c.Meta))
	c.encode(w)
	return w.Bytes()
}

// DecodeCommit strictly decodes a certificate.
func DecodeCommit(b []byte) (*Commit, error) {
	c := new(Commit)
	r := codec.NewReader(b)
	c.decode(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlockMalformed, err)
	}
	return c, nil
}

// VerifyCommit checks that c holds valid signatures over h from a quorum of
// vs, and that vs is the set h names. It needs no node and no database.
func VerifyCommit(s crypto.Suite, vs *ValidatorSet, h *Header, c *Commit) error {
	if vs.Hash(s) != h.ValidatorsHash {
		return fmt.Errorf("%w: validator set hash differs from header's", ErrCertMismatch)
	}
	hh := h.Hash(s)
	good := 0
	last := -1
	for _, cs := range c.Sigs {
		if int(cs.Index) <= last || int(cs.Index) >= len(vs.Validators) {
			return fmt.Errorf("%w: bad signer index %d", ErrNoQuorum, cs.Index)
		}
		last = int(cs.Index)
		pk, err := s.PublicKey(vs.Validators[cs.Index].PubKey)
		if err != nil || !pk.Verify(SignedMessage(h.ChainID, h.Height, hh, cs.Aux), cs.Sig) {
			return fmt.Errorf("%w: signature of %s does not verify", ErrNoQuorum, vs.Validators[cs.Index].ID)
		}
		good++
	}
	if good < vs.Quorum() {
		return fmt.Errorf("%w: %d of %d needed", ErrNoQuorum, good, vs.Quorum())
	}
	return nil
}
