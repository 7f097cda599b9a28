// Package registry holds the identity chain's native contracts: the
// did:polity document registry with its version history (module "did"),
// roles (module "roles"), the trust registry of who may issue which
// credential type (module "trust"), W3C Bitstring Status Lists (module
// "status") and the keys zero-knowledge proof verifiers need (module
// "zkkeys", docs/privacy-zk.md). docs/did-method.md specifies the first four.
//
// Every rule a verifier needs is also exported as a pure read helper over a
// Reader, so the API, the offline verifier and the HTTP-signature
// authenticator apply the same code to live state or to values proven
// against a header's state root. Modules and helpers are deterministic.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// Module names.
const (
	DIDModule    = "did"
	RolesModule  = "roles"
	TrustModule  = "trust"
	StatusModule = "status"
)

// Reader reads one full state key (module.StateKey) and returns nil for an
// absent key. It may read live state or a map of proven values.
type Reader func(key []byte) ([]byte, error)

// getter reads key of module mod: the shape both module.Context.GetFrom
// and a Reader give.
type getter func(mod string, key []byte) ([]byte, error)

func (r Reader) getter() getter {
	return func(mod string, key []byte) ([]byte, error) { return r(module.StateKey(mod, key)) }
}

// Errors returned by the modules (their text goes into failed receipts)
// and by the read helpers.
var (
	ErrBadArgs         = errors.New("identity: bad arguments")
	ErrNotConfigured   = errors.New("identity: module built without its chain configuration")
	ErrNotFound        = errors.New("identity: not found")
	ErrExists          = errors.New("identity: already exists")
	ErrDeactivated     = errors.New("identity: DID is deactivated")
	ErrNotSigner       = errors.New("identity: transaction key is not a current key of the acting DID")
	ErrNotAuthorised   = errors.New("identity: not authorised")
	ErrBadAuthority    = errors.New("identity: bad authority")
	ErrImmutable       = errors.New("identity: field cannot change")
	ErrUnchanged       = errors.New("identity: update changes nothing")
	ErrNotTrusted      = errors.New("identity: issuer is not trusted for the credential type")
	ErrBadIndex        = errors.New("identity: status index out of range")
	ErrBadAction       = errors.New("identity: action does not fit the list's purpose")
	ErrRevocationFinal = errors.New("identity: revocation is final")
	ErrCorrupt         = errors.New("identity: stored value corrupt")
	ErrNotAtHeight     = errors.New("identity: value is not the one valid at that height")
)

// config is what every module of the registry is built with.
type config struct {
	chainID string
	suite   crypto.Suite
	params  *Params
}

func newConfig(env module.Env) (*config, error) {
	if env.Suite == nil || did.KeyType(env.Suite.Name()) == "" {
		return nil, fmt.Errorf("%w: identity registry needs an ed25519-sha256 or sm2-sm3 suite", module.ErrParams)
	}
	p, err := ParseParams(env.Params[RolesModule])
	if err != nil {
		return nil, err
	}
	return &config{chainID: env.ChainID, suite: env.Suite, params: p}, nil
}

// handler binds f to c, failing when the module was never configured.
func (c *config) handler(f func(c *config, ctx *module.Context, args []byte) error) module.Handler {
	return func(ctx *module.Context, args []byte) error {
		if c == nil {
			return ErrNotConfigured
		}
		return f(c, ctx, args)
	}
}

// Modules returns the registry's modules unconfigured, for a node's
// catalog: the registry configures them (module.Configure) from the
// chain's genesis.
func Modules() []module.Module { return []module.Module{DID{}, Roles{}, Trust{}, Status{}, ZKKeys{}} }

// New returns the registry's modules configured for env, for tests and tools.
func New(env module.Env) ([]module.Module, error) {
	var out []module.Module
	for _, m := range Modules() {
		cm, err := module.Configure(m, env)
		if err != nil {
			return nil, err
		}
		out = append(out, cm)
	}
	return out, nil
}

func decodeArgs(args []byte, v any) error {
	if err := did.StrictJSON(args, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	return nil
}

// Params are the registry's genesis parameters, under the "roles" module's
// name in chain.Genesis.Params.
type Params struct {
	// Admins hold the admin role for every scope from genesis on. They are
	// usually key DIDs (did:polity:<address>), which need no registration,
	// so the first registrar can be appointed before any DID exists.
	Admins []string `json:"admins"`
}

// MaxGenesisAdmins bounds Params.Admins.
const MaxGenesisAdmins = 64

// ParseParams strictly decodes and validates the registry's genesis
// parameters; nil raw means none (no genesis admins).
func ParseParams(raw json.RawMessage) (*Params, error) {
	p := new(Params)
	if raw == nil {
		return p, nil
	}
	if err := did.StrictJSON(raw, p); err != nil {
		return nil, fmt.Errorf("%w: roles: %v", module.ErrParams, err)
	}
	if len(p.Admins) > MaxGenesisAdmins {
		return nil, fmt.Errorf("%w: roles: %d admins, max %d", module.ErrParams, len(p.Admins), MaxGenesisAdmins)
	}
	seen := make(map[string]bool)
	for _, a := range p.Admins {
		if _, err := did.Parse(a); err != nil || seen[a] {
			return nil, fmt.Errorf("%w: roles: admin %q invalid or repeated", module.ErrParams, a)
		}
		seen[a] = true
	}
	return p, nil
}

func (p *Params) isAdmin(d string) bool {
	for _, a := range p.Admins {
		if a == d {
			return true
		}
	}
	return false
}
