package services

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/httpsig"
	"github.com/polityledger/polity/identity/registry"
)

// PublicKeyHeader carries the signer's public key (base64, the identity
// chain suite's encoding) on requests signed for a key DID
// (did:polity:<address>#key-0). A key DID has no document: its only key is
// the one whose address it names, so the node checks the presented key
// hashes to that address and then verifies the signature with it. The
// header need not be covered by the signature: no other key has the
// address. Registered DIDs ignore it; their keys come from the chain.
const PublicKeyHeader = "Polity-Public-Key"

// maxPublicKeyHeader bounds the header (base64 of did.MaxPublicKeyLen).
const maxPublicKeyHeader = 4 * ((did.MaxPublicKeyLen + 2) / 3)

type presentedKeyCtx struct{}

// chainKeys resolves verification methods over the live state of the
// identity chain a node hosts: httpsig.KeyResolver.
type chainKeys struct {
	rep   *replica.Replica
	suite crypto.Suite
}

var _ httpsig.KeyResolver = (*chainKeys)(nil)

// unknownKey wraps httpsig.ErrUnknownKey with a reason.
func unknownKey(format string, args ...any) error {
	return fmt.Errorf("%w: %s", httpsig.ErrUnknownKey, fmt.Sprintf(format, args...))
}

// CurrentKey implements httpsig.KeyResolver. A key DID's #key-0 is the key
// presented in PublicKeyHeader if its address is the DID's; a registered
// DID's method is registry.KeyAt at the identity chain's current height, so
// keys rotated out and DIDs deactivated resolve to ErrUnknownKey. Lookup
// failures of the store are returned as they are (a 500, not a 401).
func (k *chainKeys) CurrentKey(ctx context.Context, keyid string) (crypto.PublicKey, error) {
	u, err := did.ParseURL(keyid)
	if err != nil {
		return nil, unknownKey("keyid: %v", err)
	}
	if addr, ok := u.DID.Address(); ok {
		if u.Fragment != did.KeyFragment {
			return nil, unknownKey("a key DID's only method is #%s", did.KeyFragment)
		}
		enc, _ := ctx.Value(presentedKeyCtx{}).(string)
		if enc == "" {
			return nil, unknownKey("a key DID signer must present its public key in %s", PublicKeyHeader)
		}
		if len(enc) > maxPublicKeyHeader {
			return nil, unknownKey("%s over %d bytes", PublicKeyHeader, maxPublicKeyHeader)
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, unknownKey("%s is not base64", PublicKeyHeader)
		}
		if chain.AddressOf(k.suite, raw) != addr {
			return nil, unknownKey("the key in %s is not the key of %s", PublicKeyHeader, u.DID)
		}
		pub, err := k.suite.PublicKey(raw)
		if err != nil {
			return nil, unknownKey("%s: %v", PublicKeyHeader, err)
		}
		return pub, nil
	}
	led := k.rep.Ledger()
	vm, err := registry.KeyAt(led.Get, keyid, led.Height())
	switch {
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrDeactivated), errors.Is(err, registry.ErrBadArgs):
		return nil, unknownKey("%v", err)
	case err != nil:
		return nil, err
	}
	pub, err := k.suite.PublicKey(vm.PublicKey)
	if err != nil {
		return nil, unknownKey("%s: %v", keyid, err)
	}
	return pub, nil
}
