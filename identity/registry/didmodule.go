package registry

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/identity/did"
)

// RegisterArgs are the arguments of did.register. The transaction is
// signed by a current key of the authority the document names.
type RegisterArgs struct {
	Document json.RawMessage `json:"document"` // did.Document in its JSON form
	// RegistrationSig is the initial key's signature over
	// Document.RegistrationBytes: proof that its holder asked for the DID.
	RegistrationSig []byte `json:"registration_sig"`
}

// UpdateArgs are the arguments of did.update: the whole new document.
type UpdateArgs struct {
	Document json.RawMessage `json:"document"`
	// As is the DID the signer acts as: the document's ID (the default) or
	// its current controller.
	As string `json:"as,omitempty"`
}

// DeactivateArgs are the arguments of did.deactivate.
type DeactivateArgs struct {
	DID string `json:"did"`
	// As is the DID the signer acts as: the DID (the default), its
	// controller, or a DID holding the registrar role.
	As string `json:"as,omitempty"`
}

// DID is the document registry module.
type DID struct{ cfg *config }

var _ module.Configurable = DID{}

// Name implements module.Module.
func (DID) Name() string { return DIDModule }

// Configure implements module.Configurable.
func (DID) Configure(env module.Env) (module.Module, error) {
	if _, ok := env.Params[DIDModule]; ok {
		return nil, fmt.Errorf("%w: did takes no parameters (registry parameters go under %q)", module.ErrParams, RolesModule)
	}
	c, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	return DID{cfg: c}, nil
}

// Methods implements module.Module.
func (m DID) Methods() []module.Method {
	return []module.Method{
		{Name: "register", Handler: m.cfg.handler(register)},
		{Name: "update", Handler: m.cfg.handler(update)},
		{Name: "deactivate", Handler: m.cfg.handler(deactivate)},
	}
}

func decodeDoc(c *config, raw json.RawMessage) (*did.Document, error) {
	doc, err := did.DecodeJSON(raw)
	if err != nil {
		return nil, err
	}
	if err := doc.CheckKeys(c.suite); err != nil {
		return nil, err
	}
	return doc, nil
}

func register(c *config, ctx *module.Context, args []byte) error {
	var a RegisterArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	doc, err := decodeDoc(c, a.Document)
	if err != nil {
		return err
	}
	if err := doc.VerifyRegistration(c.suite, a.RegistrationSig); err != nil {
		return err
	}
	g := ctx.GetFrom
	auth, _ := did.ParseURL(doc.Authority) // validated by DecodeJSON
	if _, err := c.actor(g, ctx.Sender, auth.DID.String()); err != nil {
		return err
	}
	if err := c.checkAttestation(g, doc, "register"); err != nil {
		return err
	}
	if n, err := readHead(g, doc.ID); err != nil {
		return err
	} else if n != 0 {
		return fmt.Errorf("%w: %s", ErrExists, doc.ID)
	}
	if doc.Controller != "" {
		if err := checkExists(g, doc.Controller); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
	}
	if err := writeVersion(ctx, &Version{Number: 1, From: ctx.Block.Height, FromTime: ctx.Block.Time, Doc: doc}); err != nil {
		return err
	}
	return ctx.Emit("did_registered", "did", doc.ID, "type", string(doc.Type), "authority", doc.Authority)
}

func update(c *config, ctx *module.Context, args []byte) error {
	var a UpdateArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	doc, err := decodeDoc(c, a.Document)
	if err != nil {
		return err
	}
	g := ctx.GetFrom
	cur, err := current(g, doc.ID)
	if err != nil {
		return err
	}
	as := a.As
	if as == "" {
		as = doc.ID
	}
	if as != cur.Doc.ID && as != cur.Doc.Controller {
		return fmt.Errorf("%w: %s is neither %s nor its controller", ErrNotAuthorised, as, doc.ID)
	}
	if _, err := c.actor(g, ctx.Sender, as); err != nil {
		return err
	}
	if doc.Type != cur.Doc.Type {
		return fmt.Errorf("%w: type", ErrImmutable)
	}
	if string(doc.Encode()) == string(cur.Doc.Encode()) {
		return ErrUnchanged
	}
	if !doc.SameClaim(cur.Doc) {
		// A new claim (attributes, controller or authority) needs a new
		// attestation by a current registrar.
		if err := c.checkAttestation(g, doc, "update"); err != nil {
			return err
		}
		if doc.Controller != "" && doc.Controller != cur.Doc.Controller {
			if err := checkExists(g, doc.Controller); err != nil {
				return fmt.Errorf("controller: %w", err)
			}
		}
	}
	if err := supersede(ctx, cur, &Version{Number: cur.Number + 1, From: ctx.Block.Height, FromTime: ctx.Block.Time, Doc: doc}); err != nil {
		return err
	}
	return ctx.Emit("did_updated", "did", doc.ID, "version", strconv.FormatUint(cur.Number+1, 10), "by", as)
}

func deactivate(c *config, ctx *module.Context, args []byte) error {
	var a DeactivateArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if _, err := did.Parse(a.DID); err != nil {
		return fmt.Errorf("%w: did: %w", ErrBadArgs, err)
	}
	g := ctx.GetFrom
	cur, err := current(g, a.DID)
	if err != nil {
		return err
	}
	as := a.As
	if as == "" {
		as = a.DID
	}
	if as != cur.Doc.ID && as != cur.Doc.Controller {
		ok, err := hasRole(g, c.params, as, RoleRegistrar, Scope{c.chainID, DIDModule, "deactivate"})
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s is not %s, its controller or a registrar", ErrNotAuthorised, as, a.DID)
		}
	}
	if _, err := c.actor(g, ctx.Sender, as); err != nil {
		return err
	}
	next := &Version{Number: cur.Number + 1, From: ctx.Block.Height, FromTime: ctx.Block.Time, Deactivated: true, Doc: cur.Doc}
	if err := supersede(ctx, cur, next); err != nil {
		return err
	}
	return ctx.Emit("did_deactivated", "did", a.DID, "by", as)
}

// supersede closes cur's range at this block and writes next after it.
func supersede(ctx *module.Context, cur, next *Version) error {
	cur.Until, cur.UntilTime = ctx.Block.Height, ctx.Block.Time
	if err := ctx.Set(versionKey(cur.Doc.ID, cur.Number), cur.Encode()); err != nil {
		return err
	}
	return writeVersion(ctx, next)
}

func writeVersion(ctx *module.Context, v *Version) error {
	if err := ctx.Set(versionKey(v.Doc.ID, v.Number), v.Encode()); err != nil {
		return err
	}
	w := codec.NewWriter(10)
	w.Uint(v.Number)
	return ctx.Set(headKey(v.Doc.ID), w.Bytes())
}
