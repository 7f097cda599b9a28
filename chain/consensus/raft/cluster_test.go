package raft

import (
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus/simnet"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/domains/records"
)

// cluster is n validators of one Raft chain on the simulated network, each
// with its own ledger and Raft directory.
type cluster = simnet.Cluster[*Engine]

// putRecord is the tests' workload: records.put with the label as the ID.
var putRecord = simnet.Workload{Module: records.Module{}, Method: "put",
	Args: func(id string) []byte { return fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id) }}

// seed returns RAFT_SEED if set, else def; tests log it for replay.
func seed(t testing.TB, def uint64) uint64 { return simnet.Seed(t, "RAFT_SEED", def) }

func newCluster(t testing.TB, n int, seed uint64, tune func(*Config)) *cluster {
	return newClusterGov(t, n, seed, tune, false)
}

// newClusterGov is newCluster, with the valset module in the genesis if gov.
func newClusterGov(t testing.TB, n int, seed uint64, tune func(*Config), gov bool) *cluster {
	return newClusterWith(t, n, seed, tune, gov, ledger.Options{})
}

// newClusterWith is newClusterGov with every node's ledger tuned by lo.
func newClusterWith(t testing.TB, n int, seed uint64, tune func(*Config), gov bool, lo ledger.Options) *cluster {
	return simnet.NewCluster(t, simnet.Config[*Engine]{Validators: n, Seed: seed, Consensus: chain.ConsensusRaft,
		Governance: gov, Workload: putRecord, DebugEnv: "RAFT_DEBUG", Ledger: lo, Open: func(n simnet.Node) (*Engine, error) {
			cfg := testConfig()
			cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = n.Genesis.ChainID, n.Rep, n.Suite, n.Key
			cfg.Validators, cfg.SelfID = n.Genesis.Validators, n.SelfID
			cfg.Net, cfg.Dir, cfg.Logger = n.Net, n.Dir, n.Logger
			if tune != nil {
				tune(&cfg)
			}
			return New(cfg)
		}})
}

// testConfig is fast Raft timing for the simulated network.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = 150*time.Millisecond, 300*time.Millisecond
	cfg.LeaderLeaseTimeout, cfg.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	cfg.RPCTimeout, cfg.VoteRetry, cfg.ForwardRetry = 300*time.Millisecond, 100*time.Millisecond, time.Second
	cfg.RestoreTimeout = 20 * time.Second
	return cfg
}

// leader waits until a running node leads and returns its index.
func leader(c *cluster, within time.Duration) int {
	c.T.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for i, m := range c.Nodes {
			if m != nil && m.Eng.isLeader() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.T.Fatalf("no leader within %v", within)
	return -1
}
