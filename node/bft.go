package node

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/member"
	"github.com/polityledger/polity/chain/consensus/smartbft"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/replica"
)

// openBFT wires a BFT chain: a member.Runner that runs a SmartBFT engine
// while the chain's current validator set names this node and follows the
// chain otherwise. The chain's network reaches every configured peer, so
// followers can fetch blocks and a node added by governance can vote.
func openBFT(cfg Config, spec ChainSpec, s crypto.Suite, rep *replica.Replica) (consensus.Engine, error) {
	g := spec.Genesis
	if cfg.Mesh == nil {
		return nil, fmt.Errorf("BFT chain needs a network")
	}
	dir := newDirectory(cfg.NodeID, cfg.Peers, &g.Validators)
	var recv receiverFunc
	net := cfg.Mesh.Chain(g.ChainID, dir.members(), dir.Number(cfg.NodeID), &recv)
	base := filepath.Join(cfg.DataDir, "chains", g.ChainID)
	genesisSet := g.Validators.Hash(s)
	log := cfg.Logger.With("chain", g.ChainID)
	r, err := member.New(member.Config{
		ChainID: g.ChainID, App: rep, SelfID: cfg.NodeID, Dir: dir, Net: net, Suite: s, Logger: log,
		Build: func(vs *chain.ValidatorSet, net consensus.Network) (member.Engine, error) {
			bc := smartbft.DefaultConfig()
			bc.ChainID, bc.App, bc.Suite, bc.Key = g.ChainID, rep, s, spec.Key
			bc.Validators, bc.SelfID = *vs, cfg.NodeID
			wal, err := walDir(base, vs.Hash(s), genesisSet)
			if err != nil {
				return nil, err
			}
			bc.WALDir = wal
			bc.Logger = log
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
		},
	})
	if err != nil {
		return nil, err
	}
	recv.set(r)
	rep.SetSink(r)
	return r, nil
}

// walDir returns the SmartBFT WAL directory for validator set hash under
// base, removing those of other sets: a WAL belongs to one set (its
// entries name that set's node numbers), and a set's engine starts only
// once the chain has committed past every earlier set's last height. The
// genesis set keeps the directory "wal" of nodes written before sets
// changed.
func walDir(base string, hash, genesis crypto.Hash) (string, error) {
	name := "wal"
	if hash != genesis {
		name = "wal-" + hash.String()[:16]
	}
	old, err := filepath.Glob(filepath.Join(base, "wal*"))
	if err != nil {
		return "", err
	}
	for _, d := range old {
		if b := filepath.Base(d); b != name && (b == "wal" || strings.HasPrefix(b, "wal-")) {
			if err := os.RemoveAll(d); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(base, name), nil
}

// directory numbers the nodes a chain's network reaches: this node, its
// configured peers and the chain's genesis validators, in ID order.
type directory struct{ ids []string }

func newDirectory(self string, peers []string, vs *chain.ValidatorSet) *directory {
	ids := append([]string{self}, peers...)
	for _, v := range vs.Validators {
		ids = append(ids, v.ID)
	}
	slices.Sort(ids)
	return &directory{ids: slices.Compact(ids)}
}

func (d *directory) Number(id string) uint64 {
	i, ok := slices.BinarySearch(d.ids, id)
	if !ok {
		return 0
	}
	return uint64(i) + 1
}

func (d *directory) ID(n uint64) string {
	if n == 0 || n > uint64(len(d.ids)) {
		return ""
	}
	return d.ids[n-1]
}

func (d *directory) members() map[uint64]string {
	m := make(map[uint64]string, len(d.ids))
	for i, id := range d.ids {
		m[uint64(i)+1] = id
	}
	return m
}
