package registry

import (
	"fmt"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// MaxCredentialTypeLen bounds a credential type name.
const MaxCredentialTypeLen = 128

// TrustArgs are the arguments of trust.set and trust.remove.
type TrustArgs struct {
	Issuer         string `json:"issuer"`          // a DID
	CredentialType string `json:"credential_type"` // e.g. "UniversityDegreeCredential"
	As             string `json:"as,omitempty"`    // the admin DID the signer acts as
}

func checkCredentialType(t string) error {
	if t == "" || len(t) > MaxCredentialTypeLen || !codec.Printable(t) {
		return fmt.Errorf("%w: credential_type must be 1..%d printable bytes", ErrBadArgs, MaxCredentialTypeLen)
	}
	return nil
}

func trustKey(credType, issuer string) []byte {
	k := append([]byte("t/"), credType...)
	k = append(k, 0)
	return append(k, issuer...)
}

// TrustStateKey is the full state key recording that issuer may issue
// credType (present or absent: both provable).
func TrustStateKey(issuer, credType string) []byte {
	return module.StateKey(TrustModule, trustKey(credType, issuer))
}

func mayIssue(g getter, issuer, credType string) (bool, error) {
	v, err := g(TrustModule, trustKey(credType, issuer))
	return v != nil, err
}

// MayIssue reports whether the trust registry lets issuer issue
// credentials of credType.
func MayIssue(read Reader, issuer, credType string) (bool, error) {
	if err := checkCredentialType(credType); err != nil {
		return false, err
	}
	if _, err := did.Parse(issuer); err != nil {
		return false, fmt.Errorf("%w: issuer: %w", ErrBadArgs, err)
	}
	return mayIssue(read.getter(), issuer, credType)
}

// Trust is the trust registry module.
type Trust struct{ cfg *config }

var _ module.Configurable = Trust{}

// Name implements module.Module.
func (Trust) Name() string { return TrustModule }

// Configure implements module.Configurable.
func (Trust) Configure(env module.Env) (module.Module, error) {
	if _, ok := env.Params[TrustModule]; ok {
		return nil, fmt.Errorf("%w: trust takes no parameters (registry parameters go under %q)", module.ErrParams, RolesModule)
	}
	c, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	return Trust{cfg: c}, nil
}

// Methods implements module.Module.
func (m Trust) Methods() []module.Method {
	return []module.Method{
		{Name: "set", Handler: m.cfg.handler(func(c *config, ctx *module.Context, args []byte) error { return setTrust(c, ctx, args, "set") })},
		{Name: "remove", Handler: m.cfg.handler(func(c *config, ctx *module.Context, args []byte) error { return setTrust(c, ctx, args, "remove") })},
	}
}

func setTrust(c *config, ctx *module.Context, args []byte, method string) error {
	var a TrustArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkCredentialType(a.CredentialType); err != nil {
		return err
	}
	if _, err := did.Parse(a.Issuer); err != nil {
		return fmt.Errorf("%w: issuer: %w", ErrBadArgs, err)
	}
	g := ctx.GetFrom
	admin, err := c.actor(g, ctx.Sender, a.As)
	if err != nil {
		return err
	}
	ok, err := hasRole(g, c.params, admin, RoleAdmin, Scope{c.chainID, TrustModule, method})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s is not an admin of trust.%s", ErrNotAuthorised, admin, method)
	}
	k := trustKey(a.CredentialType, a.Issuer)
	cur, err := ctx.Get(k)
	if err != nil {
		return err
	}
	if method == "remove" {
		if cur == nil {
			return fmt.Errorf("%w: %s is not trusted for %s", ErrNotFound, a.Issuer, a.CredentialType)
		}
		if err := ctx.Delete(k); err != nil {
			return err
		}
		return ctx.Emit("trust_removed", "issuer", a.Issuer, "credential_type", a.CredentialType, "by", admin)
	}
	if cur != nil {
		return fmt.Errorf("%w: %s is already trusted for %s", ErrExists, a.Issuer, a.CredentialType)
	}
	if err := checkExists(g, a.Issuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if err := ctx.Set(k, (&Grant{By: admin, Height: ctx.Block.Height}).encode()); err != nil {
		return err
	}
	return ctx.Emit("trust_set", "issuer", a.Issuer, "credential_type", a.CredentialType, "by", admin)
}
