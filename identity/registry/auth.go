package registry

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/identity/did"
)

// actor authenticates the transaction's signer as DID as, or as its own
// key DID when as is empty. A key DID is the signer when its address is
// the sender's; a registered DID when it is active and one of its current
// verification methods is the signing key. Rotated-out keys therefore no
// longer act for a DID.
func (c *config) actor(g getter, sender chain.Address, as string) (string, error) {
	if as == "" {
		return did.KeyDID(sender).String(), nil
	}
	d, err := did.Parse(as)
	if err != nil {
		return "", fmt.Errorf("%w: as: %w", ErrBadArgs, err)
	}
	if a, ok := d.Address(); ok {
		if a != sender {
			return "", fmt.Errorf("%w: %s", ErrNotSigner, as)
		}
		return as, nil
	}
	cur, err := current(g, as)
	if err != nil {
		return "", err
	}
	for _, vm := range cur.Doc.VerificationMethods {
		if chain.AddressOf(c.suite, vm.PublicKey) == sender {
			return as, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotSigner, as)
}

// checkExists fails unless d names a key DID or an active registered DID.
func checkExists(g getter, d string) error {
	id, err := did.Parse(d)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	if id.Kind == did.KindKey {
		return nil
	}
	_, err = current(g, d)
	return err
}

// authorityKey returns the public key of the document's authority method:
// the embedded key of a key DID (checked against its address) or the
// method of the authority's current document.
func (c *config) authorityKey(g getter, doc *did.Document) ([]byte, error) {
	u, err := did.ParseURL(doc.Authority)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAuthority, err)
	}
	if a, ok := u.DID.Address(); ok {
		if chain.AddressOf(c.suite, doc.AuthorityKey) != a {
			return nil, fmt.Errorf("%w: authority_key is not the key of %s", ErrBadAuthority, u.DID)
		}
		return doc.AuthorityKey, nil
	}
	cur, err := current(g, u.DID.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAuthority, err)
	}
	vm, ok := cur.Doc.Method(u.Fragment)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a current method", ErrBadAuthority, doc.Authority)
	}
	return vm.PublicKey, nil
}

// checkAttestation verifies the document's claim signature and that the
// authority holds the registrar role for method on this chain.
func (c *config) checkAttestation(g getter, doc *did.Document, method string) error {
	u, err := did.ParseURL(doc.Authority)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadAuthority, err)
	}
	ok, err := hasRole(g, c.params, u.DID.String(), RoleRegistrar, Scope{c.chainID, DIDModule, method})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: authority %s does not hold the %s role", ErrNotAuthorised, u.DID, RoleRegistrar)
	}
	pub, err := c.authorityKey(g, doc)
	if err != nil {
		return err
	}
	return doc.VerifyClaim(c.suite, pub)
}
