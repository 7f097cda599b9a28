package vc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/smt"
)

// StateCodec maps identity-chain state to keys and decodes proven values.
// It belongs to the identity registry (identity/registry implements it); the
// bundle code only knows that each question is answered by one state key.
// Decode functions receive nil for a key proven absent. Implementations must
// be deterministic and safe for concurrent use.
type StateCodec interface {
	// DIDKey is the state key of did's document.
	DIDKey(did string) ([]byte, error)
	// DecodeDID turns the proven document of did into a resolver of its
	// verification methods, including rotated ones and their validity.
	DecodeDID(did string, value []byte) (KeyResolver, error)
	// TrustKey is the state key of the trust entry (issuer, credentialType).
	TrustKey(issuer, credentialType string) ([]byte, error)
	// DecodeTrust says whether the proven trust entry lets issuer issue
	// credentialType.
	DecodeTrust(issuer, credentialType string, value []byte) (bool, error)
	// StatusKeys are the state keys that answer the status of entry index of
	// list listID: typically the list's metadata (its issuer, purpose and
	// size) and the chunk of bits holding index. At most 2.
	StatusKeys(listID string, index uint64) ([][]byte, error)
	// DecodeStatus returns the bit at index from the proven values of
	// StatusKeys, in that order; it fails if the list does not exist or its
	// purpose is not purpose.
	DecodeStatus(listID string, index uint64, purpose Purpose, values [][]byte) (bool, error)
}

// Bundle bounds.
const (
	BundleVersion  = 1
	maxBundleSize  = 4 << 20
	maxBundleState = 3 + maxTypes
	maxStateKey    = 1024
	maxStateValue  = 256 << 10
)

// Bundle is everything needed to verify a credential with no node: the
// credential, a certified header of the identity chain, and the state values
// that answer the verifier's questions (the issuer's DID document, a trust
// entry per credential type, the status chunk), each with its sparse Merkle
// proof against the header's state root. JSON with base64 byte fields; the
// binary fields use the chain's canonical encodings.
type Bundle struct {
	Version    int    `json:"version"`
	Credential string `json:"credential"`
	Suite      string `json:"suite"`
	Header     []byte `json:"header"`     // chain.Header encoding
	Commit     []byte `json:"commit"`     // chain.Commit encoding
	Validators []byte `json:"validators"` // chain.ValidatorSet encoding
	// Transitions carries the identity chain's validator set changes from
	// its genesis set to Validators (proof.Certified.EncodeTransitions);
	// absent while the set never changed.
	Transitions []byte        `json:"transitions,omitempty"`
	State       []ProvenValue `json:"state"`
}

// ProvenValue is a state key with its value (null if absent) and proof.
type ProvenValue struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
	Proof []byte `json:"proof"` // smt.Proof canonical encoding
}

// BundleKeys returns the state keys a bundle for the credential must prove,
// in the order a Bundle lists them. The node calls it, proves each key at a
// certified height, and fills a Bundle.
func BundleKeys(token string, codec StateCodec) ([][]byte, error) {
	c, err := Inspect(token)
	if err != nil {
		return nil, err
	}
	k, err := codec.DIDKey(c.Issuer)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{k}
	for _, t := range c.Types {
		if k, err = codec.TrustKey(c.Issuer, t); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if c.Status != nil {
		ks, err := codec.StatusKeys(c.Status.ListID, c.Status.Index)
		if err != nil {
			return nil, err
		}
		if len(ks) == 0 || len(ks) > 2 {
			return nil, fmt.Errorf("%w: codec gave %d status keys", ErrBundle, len(ks))
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

// Marshal returns the bundle's JSON.
func (b *Bundle) Marshal() ([]byte, error) { return json.MarshalIndent(b, "", "  ") }

// ParseBundle strictly decodes a bundle's JSON.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > maxBundleSize {
		return nil, fmt.Errorf("%w: bundle of %d bytes", ErrMalformed, len(data))
	}
	var b Bundle
	if err := strictUnmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: bundle: %w", ErrMalformed, err)
	}
	if b.Version != BundleVersion {
		return nil, fmt.Errorf("%w: bundle version %d", ErrMalformed, b.Version)
	}
	if len(b.State) == 0 || len(b.State) > maxBundleState {
		return nil, fmt.Errorf("%w: %d state entries", ErrMalformed, len(b.State))
	}
	for i, s := range b.State {
		if len(s.Key) == 0 || len(s.Key) > maxStateKey || len(s.Value) > maxStateValue || len(s.Proof) > smt.MaxProofSize {
			return nil, fmt.Errorf("%w: state entry %d out of bounds", ErrMalformed, i)
		}
	}
	return &b, nil
}

// BundleOptions are a verifier's trust anchor and clock.
type BundleOptions struct {
	// ChainID is the identity chain's ID.
	ChainID string
	// TrustedValidators is the hash of the identity chain's validator set
	// the verifier trusts (from genesis or a light client). Required.
	TrustedValidators crypto.Hash
	// Now is the verifier's time; credentials and the header are judged at it.
	Now time.Time
	// MaxAge bounds how old the header may be: a stale header could hide a
	// later revocation. Zero accepts any age.
	MaxAge time.Duration
	// Skew is the clock difference tolerated.
	Skew time.Duration
}

// BundleResult is what a verified bundle proves.
type BundleResult struct {
	Credential *Credential
	ChainID    string
	Height     uint64
	HeaderTime time.Time
	HeaderHash crypto.Hash
}

// VerifyBundle verifies a bundle offline: the header's commit certificate by
// the trusted validator set, each state value's proof against the header's
// state root, then the credential as Verifier.VerifyCredential does, with
// keys, trust and status read from the proven state through codec.
func VerifyBundle(b *Bundle, codec StateCodec, o BundleOptions) (*BundleResult, error) {
	if o.TrustedValidators.IsZero() || o.ChainID == "" {
		return nil, fmt.Errorf("%w: a trusted chain ID and validator set are required", ErrBundle)
	}
	s, err := suites.ByName(b.Suite)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	hdr, err1 := chain.DecodeHeader(b.Header)
	cmt, err2 := chain.DecodeCommit(b.Commit)
	vals, err3 := chain.DecodeValidatorSet(b.Validators)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: certified header does not decode", ErrMalformed)
	}
	if hdr.ChainID != o.ChainID {
		return nil, fmt.Errorf("%w: header of chain %q", ErrBundle, hdr.ChainID)
	}
	cert := proof.Certified{Suite: b.Suite, Header: *hdr, Commit: *cmt, Validators: *vals}
	if err := cert.DecodeTransitions(b.Transitions); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	state := map[string][]byte{}
	var res *proof.Result
	for i, e := range b.State {
		if _, dup := state[string(e.Key)]; dup {
			return nil, fmt.Errorf("%w: state key %d repeated", ErrBundle, i)
		}
		pb := &proof.Bundle{Kind: proof.KindState, Certified: cert, Key: e.Key, StatePath: new(smt.Proof)}
		if err := pb.StatePath.UnmarshalBinary(e.Proof); err != nil {
			return nil, fmt.Errorf("%w: state entry %d: %w", ErrMalformed, i, err)
		}
		if e.Value != nil {
			h := s.Hash(e.Value)
			pb.ValueHash, pb.Value = &h, e.Value
		}
		// The first entry checks the certificate; the rest share the header.
		if i == 0 {
			if res, err = proof.Verify(pb, proof.Options{TrustedValidators: o.TrustedValidators}); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBundle, err)
			}
		} else if err := smt.Verify(s, hdr.StateRoot, chain.StateKeyHash(s, e.Key), pb.ValueHash, pb.StatePath); err != nil {
			return nil, fmt.Errorf("%w: state entry %d: %w", ErrBundle, i, err)
		}
		state[string(e.Key)] = e.Value
	}
	headerTime := time.UnixMilli(int64(hdr.Time)).UTC()
	if o.MaxAge > 0 && o.Now.Sub(headerTime) > o.MaxAge+o.Skew {
		return nil, fmt.Errorf("%w: header at height %d is from %s, older than %s", ErrBundle, hdr.Height, headerTime.Format(time.RFC3339), o.MaxAge)
	}
	if headerTime.After(o.Now.Add(o.Skew)) {
		return nil, fmt.Errorf("%w: header time %s is in the future", ErrBundle, headerTime.Format(time.RFC3339))
	}
	pv := provenState{codec: codec, state: state}
	v := &Verifier{Keys: pv, Trust: pv, Status: pv, Skew: o.Skew}
	cred, err := v.VerifyCredential(b.Credential, o.Now)
	if err != nil {
		return nil, err
	}
	return &BundleResult{Credential: cred, ChainID: hdr.ChainID, Height: hdr.Height, HeaderTime: headerTime, HeaderHash: res.HeaderHash}, nil
}

// provenState answers the verifier's questions from proven state only.
type provenState struct {
	codec StateCodec
	state map[string][]byte
}

func (p provenState) lookup(key []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	v, ok := p.state[string(key)]
	if !ok {
		return nil, fmt.Errorf("%w: no proven state for key %x", ErrBundle, key)
	}
	if v == nil {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

func (p provenState) KeyAt(kid string, at time.Time) (crypto.PublicKey, error) {
	did := controllerOf(kid)
	v, err := p.lookup(p.codec.DIDKey(did))
	if err != nil {
		return nil, err
	}
	r, err := p.codec.DecodeDID(did, v)
	if err != nil {
		return nil, err
	}
	return r.KeyAt(kid, at)
}

func (p provenState) MayIssue(issuer, t string) (bool, error) {
	v, err := p.lookup(p.codec.TrustKey(issuer, t))
	if err != nil {
		return false, err
	}
	return p.codec.DecodeTrust(issuer, t, v)
}

func (p provenState) StatusBit(list string, index uint64, purpose Purpose) (bool, error) {
	ks, err := p.codec.StatusKeys(list, index)
	if err != nil {
		return false, err
	}
	vs := make([][]byte, len(ks))
	for i, k := range ks {
		if vs[i], err = p.lookup(k, nil); err != nil {
			return false, err
		}
	}
	return p.codec.DecodeStatus(list, index, purpose, vs)
}
