// Package transfer is a native contract for fungible units between
// accounts: budget allocations, subsidy entitlements, fees. Minters named in
// the chain's genesis create units; any account sends what it holds. It is
// also the workload of `polity bench --workload transfer|hotspot`.
//
// A transfer reads and writes exactly two keys (the two balances), so
// transfers between disjoint accounts never conflict under the parallel
// executor, and transfers into one hot account always do.
package transfer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/module"
)

// Name is the module's name in transactions and genesis parameters.
const Name = "transfer"

// MaxMinters bounds Params.Minters.
const MaxMinters = 64

// Errors returned by the module (their text goes into failed receipts).
var (
	ErrBadArgs      = errors.New("transfer: bad arguments")
	ErrNotMinter    = errors.New("transfer: sender may not mint")
	ErrInsufficient = errors.New("transfer: balance too low")
	ErrOverflow     = errors.New("transfer: amount overflows a balance")
)

// Params are the module's genesis parameters.
type Params struct {
	// Minters are the addresses (40 hex characters) that may mint.
	Minters []string `json:"minters"`
}

// MintArgs are the arguments of transfer.mint.
type MintArgs struct {
	To     string `json:"to"` // address
	Amount uint64 `json:"amount"`
}

// SendArgs are the arguments of transfer.send.
type SendArgs struct {
	To     string `json:"to"` // address
	Amount uint64 `json:"amount"`
}

// Module implements module.Module. The zero value has no minters; the node
// configures it from the genesis.
type Module struct {
	minters map[chain.Address]bool
}

var (
	_ module.Module       = Module{}
	_ module.Configurable = Module{}
)

// Name implements module.Module.
func (Module) Name() string { return Name }

// Methods implements module.Module.
func (m Module) Methods() []module.Method {
	return []module.Method{{Name: "mint", Handler: m.mint}, {Name: "send", Handler: send}}
}

// Configure reads Params from the genesis.
func (Module) Configure(env module.Env) (module.Module, error) {
	m := Module{minters: map[chain.Address]bool{}}
	raw, ok := env.Params[Name]
	if !ok {
		return m, nil
	}
	var p Params
	if err := module.StrictJSON(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", module.ErrParams, err)
	}
	if len(p.Minters) > MaxMinters {
		return nil, fmt.Errorf("%w: %d minters, at most %d", module.ErrParams, len(p.Minters), MaxMinters)
	}
	for _, s := range p.Minters {
		a, err := chain.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("%w: minter %q: %v", module.ErrParams, s, err)
		}
		m.minters[a] = true
	}
	return m, nil
}

// Key is the module-local state key of an account's balance.
func Key(a chain.Address) []byte { return append([]byte("b/"), a[:]...) }

// StateKey is the full state key of an account's balance, for proofs.
func StateKey(a chain.Address) []byte { return module.StateKey(Name, Key(a)) }

// DecodeBalance reads a stored balance (8 bytes, big-endian).
func DecodeBalance(v []byte) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("transfer: stored balance of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func balance(ctx *module.Context, a chain.Address) (uint64, error) {
	v, err := ctx.Get(Key(a))
	if err != nil {
		return 0, err
	}
	return DecodeBalance(v)
}

func setBalance(ctx *module.Context, a chain.Address, n uint64) error {
	if n == 0 {
		return ctx.Delete(Key(a)) // absent means zero: no dust keys
	}
	return ctx.Set(Key(a), binary.BigEndian.AppendUint64(nil, n))
}

func parseTo(to string, amount uint64) (chain.Address, error) {
	a, err := chain.ParseAddress(to)
	if err != nil {
		return a, fmt.Errorf("%w: to: %v", ErrBadArgs, err)
	}
	if amount == 0 {
		return a, fmt.Errorf("%w: amount must be positive", ErrBadArgs)
	}
	return a, nil
}

func (m Module) mint(ctx *module.Context, args []byte) error {
	var a MintArgs
	if err := module.StrictJSON(args, &a); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	to, err := parseTo(a.To, a.Amount)
	if err != nil {
		return err
	}
	if !m.minters[ctx.Sender] {
		return ErrNotMinter
	}
	bal, err := balance(ctx, to)
	if err != nil {
		return err
	}
	if bal > math.MaxUint64-a.Amount {
		return ErrOverflow
	}
	if err := setBalance(ctx, to, bal+a.Amount); err != nil {
		return err
	}
	return ctx.Emit("minted", "to", a.To, "amount", strconv.FormatUint(a.Amount, 10))
}

func send(ctx *module.Context, args []byte) error {
	var a SendArgs
	if err := module.StrictJSON(args, &a); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	to, err := parseTo(a.To, a.Amount)
	if err != nil {
		return err
	}
	from := ctx.Sender
	fb, err := balance(ctx, from)
	if err != nil {
		return err
	}
	if fb < a.Amount {
		return fmt.Errorf("%w: %d < %d", ErrInsufficient, fb, a.Amount)
	}
	if to != from {
		tb, err := balance(ctx, to)
		if err != nil {
			return err
		}
		if tb > math.MaxUint64-a.Amount {
			return ErrOverflow
		}
		if err := setBalance(ctx, from, fb-a.Amount); err != nil {
			return err
		}
		if err := setBalance(ctx, to, tb+a.Amount); err != nil {
			return err
		}
	}
	return ctx.Emit("sent", "from", from.String(), "to", a.To, "amount", strconv.FormatUint(a.Amount, 10))
}

// MarshalParams encodes Params for a genesis.
func MarshalParams(minters ...chain.Address) json.RawMessage {
	p := Params{Minters: []string{}}
	for _, a := range minters {
		p.Minters = append(p.Minters, a.String())
	}
	b, _ := json.Marshal(p) // strings only: cannot fail
	return b
}
