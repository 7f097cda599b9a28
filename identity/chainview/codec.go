package chainview

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/identity/vc"
)

// Codec is the identity chain's vc.StateCodec. A DID's documents are stored
// one version per key, so the codec must be told which version of each
// issuer a bundle proves (Versions); the node picks the version current at
// the credential's issuance and the offline verifier reads it back from the
// bundle (BundleCodec). Choosing another version cannot make a credential
// verify: the version's proven validity period must cover the issuance
// time. A Codec is immutable once built and safe for concurrent use.
type Codec struct {
	Suite    crypto.Suite
	Versions map[string]uint64 // issuer DID → version number proven
}

var _ vc.StateCodec = (*Codec)(nil)

// DIDKey implements vc.StateCodec.
func (c *Codec) DIDKey(d string) ([]byte, error) {
	n, ok := c.Versions[d]
	if !ok {
		return nil, fmt.Errorf("%w: no version of %s chosen", vc.ErrUnknownKey, d)
	}
	return registry.VersionStateKey(d, n), nil
}

// DecodeDID implements vc.StateCodec.
func (c *Codec) DecodeDID(d string, value []byte) (vc.KeyResolver, error) {
	if value == nil {
		return nil, fmt.Errorf("%w: %s has no document version %d", vc.ErrUnknownKey, d, c.Versions[d])
	}
	v, err := registry.DecodeVersion(value)
	if err != nil {
		return nil, err
	}
	if v.Doc.ID != d || v.Number != c.Versions[d] {
		return nil, fmt.Errorf("%w: proven value is %s version %d", vc.ErrBundle, v.Doc.ID, v.Number)
	}
	return versionKeys{suite: c.Suite, v: v}, nil
}

// versionKeys resolves keys from one proven version of a document.
type versionKeys struct {
	suite crypto.Suite
	v     *registry.Version
}

func (k versionKeys) KeyAt(kid string, at time.Time) (crypto.PublicKey, error) {
	u, err := did.ParseURL(kid)
	if err != nil || u.DID.String() != k.v.Doc.ID {
		return nil, fmt.Errorf("%w: %s is not a method of %s", vc.ErrUnknownKey, kid, k.v.Doc.ID)
	}
	ms := at.UnixMilli()
	if ms < 0 || !k.v.CurrentAtTime(uint64(ms)) {
		return nil, fmt.Errorf("%w: version %d of %s was not current at %s", vc.ErrUnknownKey, k.v.Number, k.v.Doc.ID, at.UTC().Format(time.RFC3339))
	}
	if k.v.Deactivated {
		return nil, fmt.Errorf("%w: %s was deactivated at %s", vc.ErrUnknownKey, k.v.Doc.ID, at.UTC().Format(time.RFC3339))
	}
	return methodKey(k.suite, k.v.Doc, u.Fragment)
}

func methodKey(s crypto.Suite, doc *did.Document, frag string) (crypto.PublicKey, error) {
	vm, ok := doc.Method(frag)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no method #%s", vc.ErrUnknownKey, doc.ID, frag)
	}
	pk, err := s.PublicKey(vm.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s#%s: %w", vc.ErrUnknownKey, doc.ID, frag, err)
	}
	return pk, nil
}

// TrustKey implements vc.StateCodec.
func (c *Codec) TrustKey(issuer, credentialType string) ([]byte, error) {
	if _, err := did.Parse(issuer); err != nil {
		return nil, fmt.Errorf("%w: issuer: %w", vc.ErrMalformed, err)
	}
	if credentialType == "" || len(credentialType) > registry.MaxCredentialTypeLen {
		return nil, fmt.Errorf("%w: credential type %q", vc.ErrMalformed, credentialType)
	}
	return registry.TrustStateKey(issuer, credentialType), nil
}

// DecodeTrust implements vc.StateCodec: a present, well-formed grant is
// trust; absence is none.
func (c *Codec) DecodeTrust(_, _ string, value []byte) (bool, error) {
	if value == nil {
		return false, nil
	}
	if _, err := registry.DecodeGrant(value); err != nil {
		return false, err
	}
	return true, nil
}

// StatusKeys implements vc.StateCodec: the list's metadata and the chunk
// holding index.
func (c *Codec) StatusKeys(listURL string, index uint64) ([][]byte, error) {
	issuer, id, err := ParseListURL(listURL)
	if err != nil {
		return nil, err
	}
	return [][]byte{registry.ListStateKey(issuer, id), registry.ChunkStateKey(issuer, id, index)}, nil
}

// DecodeStatus implements vc.StateCodec.
func (c *Codec) DecodeStatus(listURL string, index uint64, purpose vc.Purpose, values [][]byte) (bool, error) {
	issuer, id, err := ParseListURL(listURL)
	if err != nil {
		return false, err
	}
	if len(values) != 2 {
		return false, fmt.Errorf("%w: status needs the list and its chunk", vc.ErrBundle)
	}
	if values[0] == nil {
		return false, fmt.Errorf("%w: status list %s does not exist", registry.ErrNotFound, listURL)
	}
	l, err := registry.DecodeList(values[0])
	if err != nil {
		return false, err
	}
	if err := checkList(l, issuer, id, index, purpose); err != nil {
		return false, err
	}
	return registry.ChunkBit(values[1], index)
}

// checkList checks a list's metadata against what the credential's entry
// says of it.
func checkList(l *registry.List, issuer, id string, index uint64, purpose vc.Purpose) error {
	if l.Issuer != issuer || l.ID != id {
		return fmt.Errorf("%w: value is list %s of %s", registry.ErrCorrupt, l.ID, l.Issuer)
	}
	if l.Purpose != string(purpose) {
		return fmt.Errorf("%w: list %s is for %s, the entry says %s", registry.ErrBadAction, ListURL(issuer, id), l.Purpose, purpose)
	}
	if index >= l.Size {
		return fmt.Errorf("%w: %d of %d", registry.ErrBadIndex, index, l.Size)
	}
	return nil
}

// didVersionPrefix is the full-state-key prefix of every DID version key.
var didVersionPrefix = module.StateKey(registry.DIDModule, []byte("v/"))

// BundleCodec returns the codec that verifies b: its suite, and for each
// DID whose document version b proves, that version. A bundle proving two
// versions of one DID is refused.
func BundleCodec(b *vc.Bundle) (*Codec, error) {
	s, err := suites.ByName(b.Suite)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vc.ErrMalformed, err)
	}
	c := &Codec{Suite: s, Versions: map[string]uint64{}}
	for _, e := range b.State {
		d, n, ok := parseVersionKey(e.Key)
		if !ok {
			continue
		}
		if _, dup := c.Versions[d]; dup {
			return nil, fmt.Errorf("%w: two versions of %s", vc.ErrBundle, d)
		}
		c.Versions[d] = n
	}
	return c, nil
}

// parseVersionKey inverts registry.VersionStateKey.
func parseVersionKey(k []byte) (string, uint64, bool) {
	rest, ok := bytes.CutPrefix(k, didVersionPrefix)
	if !ok || len(rest) < 10 || rest[len(rest)-9] != 0 {
		return "", 0, false
	}
	d := string(rest[:len(rest)-9])
	n := binary.BigEndian.Uint64(rest[len(rest)-8:])
	if _, err := did.Parse(d); err != nil || !bytes.Equal(registry.VersionStateKey(d, n), k) {
		return "", 0, false
	}
	return d, n, true
}

// VerifyBundle verifies b offline against the identity chain chainID whose
// validator set hashes to trusted, at time now, rejecting headers older
// than maxAge (0: any age).
func VerifyBundle(b *vc.Bundle, chainID string, trusted crypto.Hash, now time.Time, maxAge, skew time.Duration) (*vc.BundleResult, error) {
	c, err := BundleCodec(b)
	if err != nil {
		return nil, err
	}
	return vc.VerifyBundle(b, c, vc.BundleOptions{ChainID: chainID, TrustedValidators: trusted, Now: now, MaxAge: maxAge, Skew: skew})
}

// notFound reports whether err means the registry has no such thing.
func notFound(err error) bool {
	return errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrDeactivated)
}
