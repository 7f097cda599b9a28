// Package valset is the governance module that changes a chain's validator
// set while it runs. A current validator proposes adding or removing one
// validator; current validators vote with transactions signed by their
// validator keys; when a quorum of the current set (the set's own
// certificate quorum) has voted, the new set is written to state in that
// block, say height N. Block N+1 and later are certified by the new set:
// every node derives the set for height N+1 from the state after N, so the
// change takes effect at the same height everywhere.
//
// A light client follows the change with a state proof of Key under block
// N's state root, certified by the old set.
package valset

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
)

// Name is the module's name in transactions and genesis module lists.
const Name = "valset"

// Limits.
const (
	MaxAddrLen = 128
)

// State keys inside the module's namespace.
var (
	keySet = []byte("set") // current set encoding; absent: the genesis set
)

func propKey(id crypto.Hash) []byte { return append([]byte("prop/"), id[:]...) }
func addrKey(id string) []byte      { return append([]byte("addr/"), id...) }

// Key is the full state key holding the current set's encoding, absent
// while the genesis set is current.
func Key() []byte { return module.StateKey(Name, keySet) }

// AddrKey is the full state key of the P2P address given for a validator
// added by governance.
func AddrKey(id string) []byte { return module.StateKey(Name, addrKey(id)) }

// Errors (their text goes into failed receipts).
var (
	ErrBadArgs     = errors.New("valset: bad arguments")
	ErrNotVoter    = errors.New("valset: sender is not a current validator")
	ErrUnknownProp = errors.New("valset: no such proposal for the current set")
	ErrVoted       = errors.New("valset: validator already voted")
)

// Operations.
const (
	OpAdd    = "add"
	OpRemove = "remove"
)

// ProposeArgs are the arguments of valset.propose. For OpAdd, PubKey (hex,
// the chain suite's key, also the node's transport key) and Addr (its P2P
// host:port) are required; for OpRemove only ID.
type ProposeArgs struct {
	Op     string `json:"op"`
	ID     string `json:"id"`
	PubKey string `json:"pub_key,omitempty"`
	Addr   string `json:"addr,omitempty"`
}

// VoteArgs are the arguments of valset.vote.
type VoteArgs struct {
	Proposal string `json:"proposal"` // hex proposal ID
}

// Module implements module.Module for one chain.
type Module struct {
	suite   crypto.Suite
	genesis *chain.ValidatorSet
}

var (
	_ module.Module       = Module{}
	_ module.Configurable = Module{}
)

// Name implements module.Module.
func (Module) Name() string { return Name }

// Methods implements module.Module.
func (m Module) Methods() []module.Method {
	return []module.Method{{Name: "propose", Handler: m.propose}, {Name: "vote", Handler: m.vote}}
}

// Configure takes the chain's suite and genesis validator set; the module
// has no parameters.
func (Module) Configure(env module.Env) (module.Module, error) {
	if _, ok := env.Params[Name]; ok {
		return nil, fmt.Errorf("%w: %s takes none", module.ErrParams, Name)
	}
	if env.Suite == nil || env.Validators == nil {
		return nil, fmt.Errorf("%w: %s needs the chain's suite and genesis validators", module.ErrParams, Name)
	}
	return Module{suite: env.Suite, genesis: env.Validators}, nil
}

// Current returns the set in force after the state get reads, given the
// chain's genesis set; get reads full state keys.
func Current(get func(key []byte) ([]byte, error), genesis *chain.ValidatorSet) (*chain.ValidatorSet, error) {
	v, err := get(Key())
	return orGenesis(v, err, genesis)
}

func (m Module) current(ctx *module.Context) (*chain.ValidatorSet, error) {
	v, err := ctx.Get(keySet)
	return orGenesis(v, err, m.genesis)
}

// orGenesis decodes a stored set; absent means the genesis set.
func orGenesis(v []byte, err error, genesis *chain.ValidatorSet) (*chain.ValidatorSet, error) {
	if err != nil || v == nil {
		return genesis, err
	}
	return chain.DecodeValidatorSet(v)
}

// voter returns the current set and the sender's index in it; senders
// outside the set may not propose or vote.
func (m Module) voter(ctx *module.Context) (*chain.ValidatorSet, int, error) {
	vs, err := m.current(ctx)
	if err != nil {
		return nil, -1, err
	}
	for i, v := range vs.Validators {
		if chain.AddressOf(m.suite, v.PubKey) == ctx.Sender {
			return vs, i, nil
		}
	}
	return nil, -1, ErrNotVoter
}

// proposal is a pending change and its voters (indices in the set it was
// made for, ascending).
type proposal struct {
	setHash crypto.Hash
	args    ProposeArgs
	pubKey  []byte
	voters  []uint32
}

func (p *proposal) encode() []byte {
	w := codec.NewWriter(256)
	w.Fixed(p.setHash[:])
	w.String(p.args.Op)
	w.String(p.args.ID)
	w.VarBytes(p.pubKey)
	w.String(p.args.Addr)
	w.Uint(uint64(len(p.voters)))
	for _, v := range p.voters {
		w.Uint(uint64(v))
	}
	return w.Bytes()
}

func decodeProposal(b []byte) (*proposal, error) {
	r := codec.NewReader(b)
	p := &proposal{}
	r.Hash32("set_hash", (*[32]byte)(&p.setHash))
	p.args.Op = r.String("op", 16)
	p.args.ID = r.String("id", chain.MaxValidatorID)
	p.pubKey = r.VarBytes("pub_key", chain.MaxPubKeyLen)
	p.args.Addr = r.String("addr", MaxAddrLen)
	n := r.UintMax("voters", chain.MaxValidators)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		p.voters = append(p.voters, uint32(r.UintMax("voter", chain.MaxValidators)))
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("valset: stored proposal: %w", err)
	}
	return p, nil
}

// id is the proposal's identity: the set it changes and the change, so
// the same change proposed twice for one set is one proposal.
func (p *proposal) id(s crypto.Suite) crypto.Hash {
	pp := *p
	pp.voters = nil
	return s.Hash(pp.encode())
}

// apply returns the set after the change, checked.
func (p *proposal) apply(s crypto.Suite, vs *chain.ValidatorSet) (*chain.ValidatorSet, error) {
	next := &chain.ValidatorSet{CrashFaultOnly: vs.CrashFaultOnly}
	switch p.args.Op {
	case OpAdd:
		if vs.Index(p.args.ID) >= 0 {
			return nil, fmt.Errorf("%w: validator %q is already in the set", ErrBadArgs, p.args.ID)
		}
		for _, v := range vs.Validators {
			if bytes.Equal(v.PubKey, p.pubKey) {
				return nil, fmt.Errorf("%w: key already used by validator %q", ErrBadArgs, v.ID)
			}
		}
		next.Validators = append(append(next.Validators, vs.Validators...), chain.Validator{ID: p.args.ID, PubKey: p.pubKey})
	case OpRemove:
		i := vs.Index(p.args.ID)
		if i < 0 {
			return nil, fmt.Errorf("%w: validator %q is not in the set", ErrBadArgs, p.args.ID)
		}
		if len(vs.Validators) == 1 {
			return nil, fmt.Errorf("%w: cannot remove the last validator", ErrBadArgs)
		}
		next.Validators = append(append(next.Validators, vs.Validators[:i]...), vs.Validators[i+1:]...)
	}
	if err := next.Validate(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	return next, nil
}

func (m Module) parse(a ProposeArgs) (*proposal, error) {
	p := &proposal{args: a}
	if !chain.ValidName(a.ID) || len(a.ID) > chain.MaxValidatorID {
		return nil, fmt.Errorf("%w: id %q is not a valid name", ErrBadArgs, a.ID)
	}
	switch a.Op {
	case OpAdd:
		k, err := hex.DecodeString(a.PubKey)
		if err != nil {
			return nil, fmt.Errorf("%w: pub_key must be hex", ErrBadArgs)
		}
		if _, err := m.suite.PublicKey(k); err != nil {
			return nil, fmt.Errorf("%w: pub_key: %w", ErrBadArgs, err)
		}
		if err := checkAddr(a.Addr); err != nil {
			return nil, err
		}
		p.pubKey = k
	case OpRemove:
		if a.PubKey != "" || a.Addr != "" {
			return nil, fmt.Errorf("%w: remove takes only an id", ErrBadArgs)
		}
	default:
		return nil, fmt.Errorf("%w: op must be %q or %q", ErrBadArgs, OpAdd, OpRemove)
	}
	return p, nil
}

// checkAddr accepts host:port with a numeric port, bounded and printable.
func checkAddr(a string) error {
	if len(a) == 0 || len(a) > MaxAddrLen || !codec.Printable(a) {
		return fmt.Errorf("%w: addr must be host:port, at most %d bytes", ErrBadArgs, MaxAddrLen)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return fmt.Errorf("%w: addr %q is not host:port", ErrBadArgs, a)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%w: addr %q has no valid port", ErrBadArgs, a)
	}
	return nil
}

func (m Module) propose(ctx *module.Context, raw []byte) error {
	var a ProposeArgs
	if err := module.StrictJSON(raw, &a); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	p, err := m.parse(a)
	if err != nil {
		return err
	}
	vs, who, err := m.voter(ctx)
	if err != nil {
		return err
	}
	p.setHash = vs.Hash(m.suite)
	if _, err := p.apply(m.suite, vs); err != nil {
		return err
	}
	id := p.id(m.suite)
	if old, err := ctx.Get(propKey(id)); err != nil {
		return err
	} else if old != nil {
		return fmt.Errorf("%w: proposal %s exists; vote for it", ErrBadArgs, id)
	}
	if err := ctx.Emit("valset.proposed", "proposal", id.String(), "op", a.Op, "id", a.ID); err != nil {
		return err
	}
	return m.count(ctx, vs, id, p, who)
}

func (m Module) vote(ctx *module.Context, raw []byte) error {
	var a VoteArgs
	if err := module.StrictJSON(raw, &a); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgs, err)
	}
	id, err := crypto.ParseHash(a.Proposal)
	if err != nil {
		return fmt.Errorf("%w: proposal: %w", ErrBadArgs, err)
	}
	vs, who, err := m.voter(ctx)
	if err != nil {
		return err
	}
	b, err := ctx.Get(propKey(id))
	if err != nil {
		return err
	}
	if b == nil {
		return fmt.Errorf("%w: %s", ErrUnknownProp, id)
	}
	p, err := decodeProposal(b)
	if err != nil {
		return err
	}
	if p.setHash != vs.Hash(m.suite) {
		// Made for an earlier set: its voters' indices mean nothing now.
		return fmt.Errorf("%w: %s was made for an earlier set", ErrUnknownProp, id)
	}
	for _, v := range p.voters {
		if v == uint32(who) {
			return ErrVoted
		}
	}
	return m.count(ctx, vs, id, p, who)
}

// count adds voter who to p and applies the change once a quorum of vs
// has voted.
func (m Module) count(ctx *module.Context, vs *chain.ValidatorSet, id crypto.Hash, p *proposal, who int) error {
	p.voters = append(p.voters, uint32(who))
	if len(p.voters) < vs.Quorum() {
		return ctx.Set(propKey(id), p.encode())
	}
	next, err := p.apply(m.suite, vs)
	if err != nil {
		return err
	}
	if err := ctx.Delete(propKey(id)); err != nil {
		return err
	}
	if err := ctx.Set(keySet, next.Encode()); err != nil {
		return err
	}
	switch p.args.Op {
	case OpAdd:
		err = ctx.Set(addrKey(p.args.ID), []byte(p.args.Addr))
	case OpRemove:
		err = ctx.Delete(addrKey(p.args.ID))
	}
	if err != nil {
		return err
	}
	return ctx.Emit("valset.changed", "proposal", id.String(), "op", p.args.Op, "id", p.args.ID,
		"validators_hash", next.Hash(m.suite).String(), "from_height", strconv.FormatUint(ctx.Block.Height+1, 10))
}
