package node

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/member"
	raftengine "github.com/polityledger/polity/chain/consensus/raft"
	"github.com/polityledger/polity/chain/consensus/smartbft"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/p2p"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
)

// openBFT wires a BFT chain: a member.Runner that runs a SmartBFT engine
// while the chain's current validator set names this node and follows the
// chain otherwise.
func openBFT(cfg Config, spec ChainSpec, s crypto.Suite, rep *replica.Replica) (consensus.Engine, error) {
	g := spec.Genesis
	return openMember(cfg, g, s, rep, "wal", func(vs *chain.ValidatorSet, dir string, net consensus.Network) (member.Engine, error) {
		bc := smartbft.DefaultConfig()
		bc.ChainID, bc.App, bc.Suite, bc.Key = g.ChainID, rep, s, spec.Key
		bc.Validators, bc.SelfID = *vs, cfg.NodeID
		bc.WALDir = dir
		bc.Logger = cfg.Logger.With("chain", g.ChainID)
		if cfg.Clock != nil {
			bc.Clock = cfg.Clock
		}
		if g.MaxBlockTxs > 0 {
			bc.BatchMaxCount = uint64(g.MaxBlockTxs)
		}
		if cfg.TuneBFT != nil {
			cfg.TuneBFT(&bc)
		}
		bc.Net = net
		return smartbft.New(bc)
	})
}

// openRaft wires a crash-fault-tolerant chain the same way with a Raft
// engine per validator set: each set is its own Raft cluster, bootstrapped
// with that set's configuration and started from the ledger head, its log,
// stable store and snapshots in DataDir/chains/ID/raft (the genesis set) or
// raft-<hash> (later sets).
func openRaft(cfg Config, spec ChainSpec, s crypto.Suite, rep *replica.Replica, maxTxs int) (consensus.Engine, error) {
	g := spec.Genesis
	return openMember(cfg, g, s, rep, "raft", func(vs *chain.ValidatorSet, dir string, net consensus.Network) (member.Engine, error) {
		rc := raftengine.DefaultConfig()
		rc.ChainID, rc.App, rc.Suite, rc.Key = g.ChainID, rep, s, spec.Key
		rc.Validators, rc.SelfID = *vs, cfg.NodeID
		rc.Dir = dir
		rc.Logger = cfg.Logger.With("chain", g.ChainID)
		rc.MaxTxs = maxTxs
		rc.KeepLogFor(cfg.RetainBlocks)
		if cfg.Clock != nil {
			rc.Clock = cfg.Clock
		}
		if cfg.TuneRaft != nil {
			cfg.TuneRaft(&rc)
		}
		rc.Net = net
		return raftengine.New(rc)
	})
}

// openMember wires a chain this node hosts: a member.Runner that runs the
// engine build makes while the chain's current validator set names this
// node and follows the chain otherwise. The chain's network reaches every
// configured peer, so followers can fetch blocks and a node added by
// governance can vote. build gets the engine's directory for the set
// (named stateDir, per set: see setDir).
func openMember(cfg Config, g *chain.Genesis, s crypto.Suite, rep *replica.Replica, stateDir string,
	build func(vs *chain.ValidatorSet, dir string, net consensus.Network) (member.Engine, error)) (consensus.Engine, error) {
	if cfg.Mesh == nil {
		return nil, fmt.Errorf("chain %s needs a network", g.ChainID)
	}
	dir := newDirectory(cfg.NodeID, cfg.Peers, &g.Validators)
	recv := &receiverFunc{}
	net := &chainNet{}
	net.set(cfg.Mesh.Chain(g.ChainID, dir.members(), dir.Number(cfg.NodeID), recv))
	base := filepath.Join(cfg.DataDir, "chains", g.ChainID)
	genesisSet := g.Validators.Hash(s)
	r, err := member.New(member.Config{
		ChainID: g.ChainID, App: rep, SelfID: cfg.NodeID, Dir: dir, Net: net, Suite: s, Logger: cfg.Logger,
		OnSet: func(vs *chain.ValidatorSet) {
			joinValidators(cfg, g, rep, dir, net, recv, vs)
			if vs.Index(cfg.NodeID) < 0 {
				// Following: no set's engine state is current any more (a
				// set this node rejoins later starts afresh, even one with
				// the same hash).
				if _, err := setDir(base, stateDir, vs.Hash(s), 0, genesisSet); err != nil {
					cfg.Logger.Warn("removing engine state", "chain", g.ChainID, "err", err)
				}
			}
		},
		Build: func(vs *chain.ValidatorSet, net consensus.Network) (member.Engine, error) {
			from, err := member.SetFrom(rep)
			if err != nil {
				return nil, err
			}
			d, err := setDir(base, stateDir, vs.Hash(s), from, genesisSet)
			if err != nil {
				return nil, err
			}
			return build(vs, d, net)
		},
	})
	if err != nil {
		return nil, err
	}
	recv.set(r)
	rep.SetSink(r)
	return r, nil
}

// setDir returns an engine's state directory (SmartBFT WAL, Raft log) for
// validator set hash certifying from height from under base, removing
// those of other sets: the state belongs to one set (its entries name that
// set's node numbers), and a set's engine starts only once the chain has
// committed past every earlier set's last height. A set that returns (A,
// B, A) starts afresh: its directory names the height too. The genesis set
// keeps the directory name of nodes written before sets changed.
func setDir(base, name string, hash crypto.Hash, from uint64, genesis crypto.Hash) (string, error) {
	want := name
	if hash != genesis || from != 1 {
		want = fmt.Sprintf("%s-%s-%d", name, hash.String()[:16], from)
	}
	old, err := filepath.Glob(filepath.Join(base, name+"*"))
	if err != nil {
		return "", err
	}
	for _, d := range old {
		if b := filepath.Base(d); b != want && (b == name || strings.HasPrefix(b, name+"-")) {
			if err := os.RemoveAll(d); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(base, want), nil
}

// directory numbers the nodes a chain's network reaches: this node, its
// configured peers and the chain's genesis validators in ID order, then
// validators governance added, in the order they appear. Numbers never
// change once given. Safe for concurrent use.
type directory struct {
	mu  sync.RWMutex
	ids []string
	num map[string]uint64
}

func newDirectory(self string, peers []string, vs *chain.ValidatorSet) *directory {
	ids := append([]string{self}, peers...)
	for _, v := range vs.Validators {
		ids = append(ids, v.ID)
	}
	slices.Sort(ids)
	d := &directory{num: map[string]uint64{}}
	for _, id := range slices.Compact(ids) {
		d.add(id)
	}
	return d
}

// add numbers id if it has no number yet.
func (d *directory) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.num[id] == 0 {
		d.ids = append(d.ids, id)
		d.num[id] = uint64(len(d.ids))
	}
}

func (d *directory) Number(id string) uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.num[id]
}

func (d *directory) ID(n uint64) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if n == 0 || n > uint64(len(d.ids)) {
		return ""
	}
	return d.ids[n-1]
}

func (d *directory) members() map[uint64]string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	m := make(map[uint64]string, len(d.ids))
	for i, id := range d.ids {
		m[uint64(i)+1] = id
	}
	return m
}

// chainNet is a chain's network, registered again when its members grow.
type chainNet struct {
	p atomic.Pointer[consensus.Network]
}

func (n *chainNet) set(net consensus.Network) { n.p.Store(&net) }

func (n *chainNet) Send(to uint64, msg []byte) { (*n.p.Load()).Send(to, msg) }

// PeerAdder is a Mesh that can reach a node it was not configured with.
type PeerAdder interface {
	AddPeer(p2p.Peer) error
}

// joinValidators makes the chain's network reach every validator of vs:
// a validator governance added that is no configured peer is added to the
// mesh with the key the set gives (pinned for TLS, as configured peers'
// keys are) and the address valset recorded, and the chain is registered
// again with it as a member.
func joinValidators(cfg Config, g *chain.Genesis, rep *replica.Replica, dir *directory, net *chainNet, recv consensus.Receiver, vs *chain.ValidatorSet) {
	grew := false
	for _, v := range vs.Validators {
		if dir.Number(v.ID) != 0 {
			continue
		}
		adder, ok := cfg.Mesh.(PeerAdder)
		if !ok || len(v.PubKey) != ed25519.PublicKeySize {
			cfg.Logger.Warn("cannot reach a validator governance added", "chain", g.ChainID, "validator", v.ID)
			continue
		}
		addr, err := rep.Ledger().Get(valset.AddrKey(v.ID))
		if err != nil {
			cfg.Logger.Warn("validator address", "chain", g.ChainID, "validator", v.ID, "err", err)
			continue
		}
		if err := adder.AddPeer(p2p.Peer{ID: v.ID, Addr: string(addr), PubKey: ed25519.PublicKey(v.PubKey)}); err != nil {
			cfg.Logger.Warn("cannot add a validator governance added as a peer", "chain", g.ChainID, "validator", v.ID, "err", err)
			continue
		}
		dir.add(v.ID)
		grew = true
	}
	if grew {
		net.set(cfg.Mesh.Chain(g.ChainID, dir.members(), dir.Number(cfg.NodeID), recv))
	}
}
