// Package node hosts every chain one organisation runs in one process: for
// each chain a replica (ledger, mempool, executor) and its consensus engine.
// It wires the domain modules a genesis names into that chain's registry.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	raftengine "github.com/polityledger/polity/chain/consensus/raft"
	"github.com/polityledger/polity/chain/consensus/smartbft"
	"github.com/polityledger/polity/chain/consensus/solo"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/exec/blockstm"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/domains/records"
	"github.com/polityledger/polity/domains/transfer"
	"github.com/polityledger/polity/identity/registry"
)

// DefaultMaxBlockTxs is the block size when a genesis sets none.
const DefaultMaxBlockTxs = 5000

// Catalog maps module names a genesis may list to their implementations.
var catalog = map[string]module.Module{
	records.Name:          records.Module{},
	aggregate.Name:        aggregate.Module{},
	transfer.Name:         transfer.Module{},
	registry.DIDModule:    registry.DID{},
	registry.RolesModule:  registry.Roles{},
	registry.TrustModule:  registry.Trust{},
	registry.StatusModule: registry.Status{},
	registry.ZKKeysModule: registry.ZKKeys{},
	valset.Name:           valset.Module{},
}

// ModuleNames lists the modules a genesis may name.
func ModuleNames() []string {
	out := make([]string, 0, len(catalog))
	for n := range catalog {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ChainSpec is one hosted chain.
type ChainSpec struct {
	Genesis *chain.Genesis
	// Key is this node's validator key for the chain (solo needs it).
	Key crypto.PrivateKey
}

// Config for a node.
type Config struct {
	DataDir string
	Chains  []ChainSpec
	Logger  *slog.Logger
	Clock   func() time.Time
	// NodeID is this node's identity: its validator ID in every BFT chain
	// it validates, and its peer ID on the network.
	NodeID string
	// Mesh connects BFT chains to their validators (a *p2p.Transport).
	Mesh Mesh
	// Peers are the IDs of the nodes Mesh knows (validators and followers
	// of the hosted chains); a BFT chain's network reaches these.
	Peers []string
	// TuneBFT, if set, adjusts each BFT engine's configuration (tests use
	// it for short timeouts).
	TuneBFT func(*smartbft.Config)
	// TuneRaft, if set, adjusts each Raft engine's configuration.
	TuneRaft func(*raftengine.Config)
	// RetainBlocks is every ledger's block retention (0: keep all).
	RetainBlocks uint64
}

// Mesh gives each hosted chain its network among the chain's validators.
type Mesh interface {
	Chain(chainID string, members map[uint64]string, self uint64, r consensus.Receiver) consensus.Network
}

// receiverFunc lets the network be created before the engine it feeds;
// messages arriving before set are dropped (engines retransmit).
type receiverFunc struct {
	p atomic.Pointer[consensus.Receiver]
}

func (r *receiverFunc) set(e consensus.Receiver) { r.p.Store(&e) }

func (r *receiverFunc) Receive(from uint64, msg []byte) {
	if e := r.p.Load(); e != nil {
		(*e).Receive(from, msg)
	}
}

// Node is a running set of chains.
type Node struct {
	id     string
	log    *slog.Logger
	chains map[string]*hosted
	order  []string
}

type hosted struct {
	rep *replica.Replica
	eng consensus.Engine
}

// ErrUnknownChain is returned for a chain this node does not host.
var ErrUnknownChain = errors.New("unknown chain")

// Open opens every chain's ledger. Call Run to start ordering and Close when done.
func Open(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{id: cfg.NodeID, log: cfg.Logger, chains: make(map[string]*hosted)}
	for _, spec := range cfg.Chains {
		h, err := openChain(cfg, spec)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("chain %s: %w", spec.Genesis.ChainID, err)
		}
		if _, dup := n.chains[spec.Genesis.ChainID]; dup {
			h.rep.Close()
			n.Close()
			return nil, fmt.Errorf("chain %s configured twice", spec.Genesis.ChainID)
		}
		n.chains[spec.Genesis.ChainID] = h
		n.order = append(n.order, spec.Genesis.ChainID)
	}
	return n, nil
}

func openChain(cfg Config, spec ChainSpec) (*hosted, error) {
	g := spec.Genesis
	s, err := suites.ByName(g.Suite)
	if err != nil {
		return nil, err
	}
	var mods []module.Module
	env := module.Env{ChainID: g.ChainID, Suite: s, Params: g.Params, Validators: &g.Validators}
	for _, name := range g.Modules {
		m, ok := catalog[name]
		if !ok {
			return nil, fmt.Errorf("genesis names unknown module %q (known: %v)", name, ModuleNames())
		}
		if m, err = module.Configure(m, env); err != nil {
			return nil, err
		}
		mods = append(mods, m)
	}
	reg, err := module.NewRegistry(mods...)
	if err != nil {
		return nil, err
	}
	rep, err := replica.Open(replica.Config{
		Genesis: g, Suite: s, Registry: reg,
		// Block-STM gives results byte-identical to serial execution
		// (property-tested), using every core on large blocks.
		Executor: func(c exec.Config) exec.Executor { return blockstm.New(c, runtime.GOMAXPROCS(0)) },
		Dir:      ledgerDir(cfg.DataDir, g.ChainID),
		Ledger:   ledger.Options{RetainBlocks: cfg.RetainBlocks},
		Logger:   cfg.Logger.With("chain", g.ChainID),
	})
	if err != nil {
		return nil, err
	}
	max := g.MaxBlockTxs
	if max == 0 {
		max = DefaultMaxBlockTxs
	}
	var eng consensus.Engine
	switch g.Consensus {
	case chain.ConsensusSolo:
		v := g.Validators.Validators[0]
		if spec.Key == nil || !bytes.Equal(spec.Key.Public().Bytes(), v.PubKey) {
			rep.Close()
			return nil, fmt.Errorf("solo chain needs this node's key to be its validator's")
		}
		eng, err = solo.New(solo.Config{App: rep, Suite: s, Key: spec.Key, ID: v.ID, MaxTxs: max, Clock: cfg.Clock, Logger: cfg.Logger})
	case chain.ConsensusBFT:
		if g.Validators.CrashFaultOnly {
			err = fmt.Errorf("a BFT chain's validator set must not be crash_fault_only")
			break
		}
		eng, err = openBFT(cfg, spec, s, rep)
	case chain.ConsensusRaft:
		eng, err = openRaft(cfg, spec, s, rep, max)
	default:
		err = fmt.Errorf("consensus %q is not available in this build", g.Consensus)
	}
	if err != nil {
		rep.Close()
		return nil, err
	}
	return &hosted{rep: rep, eng: eng}, nil
}

// Run orders blocks on every chain until ctx is cancelled or an engine fails.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(n.order))
	for _, id := range n.order {
		h := n.chains[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.eng.Run(ctx); err != nil {
				errs <- fmt.Errorf("chain %s: %w", id, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// WaitReady waits until every chain's engine can order transactions (BFT
// engines know a leader), or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, id := range n.order {
		r, ok := n.chains[id].eng.(interface{ Ready() bool })
		for ok && !r.Ready() {
			select {
			case <-ctx.Done():
				return fmt.Errorf("chain %s not ready: %w", id, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}

// Close closes every ledger. Run must have returned.
func (n *Node) Close() error {
	var first error
	for _, id := range n.order {
		if err := n.chains[id].rep.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ID returns the node's ID (its validator ID in the sets naming it).
func (n *Node) ID() string { return n.id }

// Chain returns a hosted chain's replica.
func (n *Node) Chain(id string) (*replica.Replica, error) {
	h, ok := n.chains[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownChain, id)
	}
	return h.rep, nil
}

// Chains returns every hosted replica in configuration order.
func (n *Node) Chains() []*replica.Replica {
	out := make([]*replica.Replica, len(n.order))
	for i, id := range n.order {
		out[i] = n.chains[id].rep
	}
	return out
}
