package registry

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// Built-in roles. Admins grant and revoke roles and set the trust
// registry within their scope; registrars attest DID documents.
const (
	RoleAdmin     = "admin"
	RoleRegistrar = "registrar"
)

// Wildcard matches any chain, module or method in a scope.
const Wildcard = "*"

// Scope is where a role applies: a chain ID, a module and a method, each a
// name or Wildcard. A role granted at a scope holds for every concrete
// (chain, module, method) it matches.
type Scope struct {
	Chain  string `json:"chain"`
	Module string `json:"module"`
	Method string `json:"method"`
}

// Valid reports whether every part is a name or Wildcard.
func (s Scope) Valid() bool {
	ok := func(p string) bool { return p == Wildcard || chain.ValidName(p) }
	return ok(s.Chain) && ok(s.Module) && ok(s.Method)
}

// GrantArgs are the arguments of roles.grant and roles.revoke.
type GrantArgs struct {
	Holder string `json:"holder"` // a DID
	Role   string `json:"role"`
	Scope
	As string `json:"as,omitempty"` // the admin DID the signer acts as; default its key DID
}

// Grant is the stored value of a role grant.
type Grant struct {
	By     string // the admin who granted it
	Height uint64
}

func (g *Grant) encode() []byte {
	w := codec.NewWriter(64)
	w.String(g.By)
	w.Uint(g.Height)
	return w.Bytes()
}

// DecodeGrant strictly decodes a stored grant.
func DecodeGrant(b []byte) (*Grant, error) {
	r := codec.NewReader(b)
	g := &Grant{By: r.String("grant.by", did.MaxDIDLen), Height: r.Uint("grant.height")}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: grant: %w", ErrCorrupt, err)
	}
	return g, nil
}

func roleKey(holder, role string, s Scope) []byte {
	k := make([]byte, 0, 2+len(holder)+len(role)+len(s.Chain)+len(s.Module)+len(s.Method)+4)
	k = append(k, "r/"...)
	for i, p := range []string{holder, role, s.Chain, s.Module, s.Method} {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// RoleStateKey is the full state key of a grant of role to holder at
// exactly scope s.
func RoleStateKey(holder, role string, s Scope) []byte {
	return module.StateKey(RolesModule, roleKey(holder, role, s))
}

// Candidates are the grant scopes that would cover s: each concrete part
// may be granted as itself or as Wildcard; a Wildcard part only as
// Wildcard. At most eight, so a role check is eight point reads (each one
// provable, present or absent).
func (s Scope) Candidates() []Scope {
	alts := func(p string) []string {
		if p == Wildcard {
			return []string{Wildcard}
		}
		return []string{p, Wildcard}
	}
	var out []Scope
	for _, c := range alts(s.Chain) {
		for _, m := range alts(s.Module) {
			for _, x := range alts(s.Method) {
				out = append(out, Scope{c, m, x})
			}
		}
	}
	return out
}

func hasRole(g getter, p *Params, holder, role string, s Scope) (bool, error) {
	if role == RoleAdmin && p.isAdmin(holder) {
		return true, nil
	}
	for _, c := range s.Candidates() {
		v, err := g(RolesModule, roleKey(holder, role, c))
		if err != nil {
			return false, err
		}
		if v != nil {
			return true, nil
		}
	}
	return false, nil
}

// HasRole reports whether holder holds role at a scope covering s, by a
// grant in state or, for admin, by the genesis parameters p. It does not
// check that holder is active or that a request was signed by it: callers
// resolve the DID and check the signature first.
func HasRole(read Reader, p *Params, holder, role string, s Scope) (bool, error) {
	if !s.Valid() || !chain.ValidName(role) {
		return false, fmt.Errorf("%w: role %q at %+v", ErrBadArgs, role, s)
	}
	return hasRole(read.getter(), p, holder, role, s)
}

// Roles is the role registry module.
type Roles struct{ cfg *config }

var _ module.Configurable = Roles{}

// Name implements module.Module.
func (Roles) Name() string { return RolesModule }

// Configure implements module.Configurable; the registry's Params are this
// module's genesis parameters.
func (Roles) Configure(env module.Env) (module.Module, error) {
	c, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	return Roles{cfg: c}, nil
}

// Methods implements module.Module.
func (m Roles) Methods() []module.Method {
	return []module.Method{
		{Name: "grant", Handler: m.cfg.handler(grantRole)},
		{Name: "revoke", Handler: m.cfg.handler(revokeRole)},
	}
}

// checkGrant decodes and authorises a grant or revoke: the signer acts as
// an admin whose admin scope covers the grant's scope, so no admin can
// hand out more than it holds.
func checkGrant(c *config, ctx *module.Context, args []byte) (*GrantArgs, string, error) {
	var a GrantArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, "", err
	}
	if !chain.ValidName(a.Role) || !a.Scope.Valid() {
		return nil, "", fmt.Errorf("%w: role %q at %+v", ErrBadArgs, a.Role, a.Scope)
	}
	if _, err := did.Parse(a.Holder); err != nil {
		return nil, "", fmt.Errorf("%w: holder: %w", ErrBadArgs, err)
	}
	if len(roleKey(a.Holder, a.Role, a.Scope)) > module.MaxKeyLen {
		return nil, "", fmt.Errorf("%w: role and scope names too long together", ErrBadArgs)
	}
	g := ctx.GetFrom
	admin, err := c.actor(g, ctx.Sender, a.As)
	if err != nil {
		return nil, "", err
	}
	ok, err := hasRole(g, c.params, admin, RoleAdmin, a.Scope)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("%w: %s is not an admin covering %s/%s/%s", ErrNotAuthorised, admin, a.Chain, a.Module, a.Method)
	}
	return &a, admin, nil
}

func grantRole(c *config, ctx *module.Context, args []byte) error {
	a, admin, err := checkGrant(c, ctx, args)
	if err != nil {
		return err
	}
	if err := checkExists(ctx.GetFrom, a.Holder); err != nil {
		return fmt.Errorf("holder: %w", err)
	}
	k := roleKey(a.Holder, a.Role, a.Scope)
	if v, err := ctx.Get(k); err != nil {
		return err
	} else if v != nil {
		return fmt.Errorf("%w: %s already holds %s there", ErrExists, a.Holder, a.Role)
	}
	if err := ctx.Set(k, (&Grant{By: admin, Height: ctx.Block.Height}).encode()); err != nil {
		return err
	}
	return ctx.Emit("role_granted", "holder", a.Holder, "role", a.Role, "scope", a.Chain+"/"+a.Module+"/"+a.Method, "by", admin)
}

func revokeRole(c *config, ctx *module.Context, args []byte) error {
	a, admin, err := checkGrant(c, ctx, args)
	if err != nil {
		return err
	}
	k := roleKey(a.Holder, a.Role, a.Scope)
	if v, err := ctx.Get(k); err != nil {
		return err
	} else if v == nil {
		return fmt.Errorf("%w: %s holds no %s grant at exactly that scope", ErrNotFound, a.Holder, a.Role)
	}
	if err := ctx.Delete(k); err != nil {
		return err
	}
	return ctx.Emit("role_revoked", "holder", a.Holder, "role", a.Role, "scope", a.Chain+"/"+a.Module+"/"+a.Method, "by", admin)
}
