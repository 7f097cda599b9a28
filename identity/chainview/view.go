package chainview

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/identity/vc"
)

// Ledger is the committed state of the identity chain a View reads: the
// latest state values and the certified headers. *ledger.Ledger satisfies
// it. Implementations must be safe for concurrent use.
type Ledger interface {
	// Get returns the latest value of a full state key, nil if absent.
	Get(key []byte) ([]byte, error)
	// Height is the committed head height.
	Height() uint64
	// Header returns the header and commit at height h.
	Header(h uint64) (*chain.Header, *chain.Commit, error)
}

// Prover proves a full state key's value or absence at a height
// (*replica.Replica satisfies it).
type Prover interface {
	StateProof(key []byte, h uint64) (*proof.Bundle, error)
}

// View answers the credential verifier from one node's identity chain. It
// implements vc.KeyResolver, vc.TrustRegistry and vc.StatusSource over the
// latest committed state and is safe for concurrent use.
type View struct {
	suite   crypto.Suite
	chainID string
	led     Ledger
	prover  Prover
}

var (
	_ vc.KeyResolver   = (*View)(nil)
	_ vc.TrustRegistry = (*View)(nil)
	_ vc.StatusSource  = (*View)(nil)
)

// New returns a view of the identity chain chainID.
func New(s crypto.Suite, chainID string, led Ledger, p Prover) *View {
	return &View{suite: s, chainID: chainID, led: led, prover: p}
}

// Reader is the registry's reader over the latest state.
func (v *View) Reader() registry.Reader { return v.led.Get }

// Verifier returns a credential verifier over the view.
func (v *View) Verifier(skew time.Duration) *vc.Verifier {
	return &vc.Verifier{Keys: v, Trust: v, Status: v, Skew: skew}
}

// HeightAt returns the last committed height whose header time is at or
// before t: the state a signature made at t was made against. It fails
// with vc.ErrUnknownKey before the genesis time. O(log height) header
// reads; header times strictly increase.
func (v *View) HeightAt(t time.Time) (uint64, error) {
	ms := t.UnixMilli()
	head := v.led.Height()
	var ferr error
	i := sort.Search(int(min(head+1, 1<<62)), func(i int) bool {
		h, _, err := v.led.Header(uint64(i))
		if err != nil {
			ferr = err
			return true
		}
		return int64(h.Time) > ms
	})
	if ferr != nil {
		return 0, ferr
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: %s is before the identity chain's genesis", vc.ErrUnknownKey, t.UTC().Format(time.RFC3339))
	}
	return uint64(i - 1), nil
}

// KeyAt implements vc.KeyResolver: the key the DID URL kid named at time
// at, from the document version current after the last block at or before
// at. Key DIDs have no document and resolve to no key.
func (v *View) KeyAt(kid string, at time.Time) (crypto.PublicKey, error) {
	u, err := did.ParseURL(kid)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vc.ErrUnknownKey, err)
	}
	if u.DID.Kind == did.KindKey {
		return nil, fmt.Errorf("%w: %s is a key DID, which cannot sign credentials (register a DID)", vc.ErrUnknownKey, kid)
	}
	h, err := v.HeightAt(at)
	if err != nil {
		return nil, err
	}
	vm, err := registry.KeyAt(v.Reader(), kid, h)
	if notFound(err) {
		return nil, fmt.Errorf("%w: %w", vc.ErrUnknownKey, err)
	}
	if err != nil {
		return nil, err
	}
	pk, err := v.suite.PublicKey(vm.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", vc.ErrUnknownKey, kid, err)
	}
	return pk, nil
}

// MayIssue implements vc.TrustRegistry.
func (v *View) MayIssue(issuer, credentialType string) (bool, error) {
	return registry.MayIssue(v.Reader(), issuer, credentialType)
}

// StatusBit implements vc.StatusSource: listURL is ListURL(issuer, id).
func (v *View) StatusBit(listURL string, index uint64, purpose vc.Purpose) (bool, error) {
	l, err := v.List(listURL)
	if err != nil {
		return false, err
	}
	if err := checkList(l, l.Issuer, l.ID, index, purpose); err != nil {
		return false, err
	}
	return registry.StatusBit(v.Reader(), l.Issuer, l.ID, index)
}

// List returns the metadata of the list listURL names.
func (v *View) List(listURL string) (*registry.List, error) {
	issuer, id, err := ParseListURL(listURL)
	if err != nil {
		return nil, err
	}
	return registry.GetList(v.Reader(), issuer, id)
}

// ErrStale is returned when the head kept moving while a bundle was built.
var ErrStale = errors.New("chainview: state changed while proving; retry")

// ProveLatest proves keys at the current head and returns the proofs with
// the values they prove (nil for absent keys). Every proof is against the
// same header.
func (v *View) ProveLatest(keys [][]byte) ([]*proof.Bundle, error) {
	for range 5 {
		out, ok, err := v.proveAt(keys, v.led.Height())
		if err != nil || ok {
			return out, err
		}
	}
	return nil, ErrStale
}

// proveAt proves keys at h; ok is false when the head moved past h before
// every value could be read back (values are kept for the head only).
func (v *View) proveAt(keys [][]byte, h uint64) ([]*proof.Bundle, bool, error) {
	out := make([]*proof.Bundle, len(keys))
	for i, k := range keys {
		pb, err := v.prover.StateProof(k, h)
		if err != nil {
			return nil, false, err
		}
		if pb.ValueHash != nil && pb.Value == nil {
			val, err := v.led.Get(k)
			if err != nil {
				return nil, false, err
			}
			if val == nil || v.suite.Hash(val) != *pb.ValueHash {
				return nil, false, nil
			}
			pb.Value = val
		}
		out[i] = pb
	}
	return out, true, nil
}

// Bundle builds the offline bundle of a credential JWT: the version of the
// issuer's document current at issuance (or, when there is none, the
// latest, so the bundle proves why it fails), the trust entries and the
// status list with its chunk, all proven at the current head. It does not
// require the credential to be valid: a bundle of a revoked credential
// proves the revocation.
func (v *View) Bundle(token string) (*vc.Bundle, error) {
	cred, err := vc.Inspect(token)
	if err != nil {
		return nil, err
	}
	n := uint64(1)
	if h, err := v.HeightAt(cred.IssuedAt); err == nil {
		if ver, err := registry.ResolveAt(v.Reader(), cred.Issuer, h); err == nil {
			n = ver.Number
		} else if !notFound(err) {
			return nil, err
		} else if ver, err := registry.Resolve(v.Reader(), cred.Issuer); err == nil {
			n = ver.Number
		}
	}
	codec := &Codec{Suite: v.suite, Versions: map[string]uint64{cred.Issuer: n}}
	keys, err := vc.BundleKeys(token, codec)
	if err != nil {
		return nil, err
	}
	pbs, err := v.ProveLatest(keys)
	if err != nil {
		return nil, err
	}
	c := pbs[0].Certified
	trs, err := c.EncodeTransitions()
	if err != nil {
		return nil, err
	}
	b := &vc.Bundle{Version: vc.BundleVersion, Credential: token, Suite: c.Suite,
		Header: c.Header.Encode(), Commit: c.Commit.Encode(), Validators: c.Validators.Encode(), Transitions: trs}
	for i, pb := range pbs {
		p, err := pb.StatePath.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b.State = append(b.State, vc.ProvenValue{Key: keys[i], Value: pb.Value, Proof: p})
	}
	return b, nil
}
