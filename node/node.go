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
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/solo"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/records"
)

// DefaultMaxBlockTxs is the block size when a genesis sets none.
const DefaultMaxBlockTxs = 5000

// Catalog maps module names a genesis may list to their implementations.
var catalog = map[string]module.Module{
	records.Name: records.Module{},
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
}

// Node is a running set of chains.
type Node struct {
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
	n := &Node{log: cfg.Logger, chains: make(map[string]*hosted)}
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
	for _, name := range g.Modules {
		m, ok := catalog[name]
		if !ok {
			return nil, fmt.Errorf("genesis names unknown module %q (known: %v)", name, ModuleNames())
		}
		mods = append(mods, m)
	}
	reg, err := module.NewRegistry(mods...)
	if err != nil {
		return nil, err
	}
	rep, err := replica.Open(replica.Config{
		Genesis: g, Suite: s, Registry: reg,
		Dir:    filepath.Join(cfg.DataDir, "chains", g.ChainID),
		Logger: cfg.Logger.With("chain", g.ChainID),
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
