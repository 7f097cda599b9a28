package smartbft

import (
	"fmt"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus/simnet"
	"github.com/polityledger/polity/domains/records"
)

// cluster is n validators of one BFT chain on the simulated network, each
// with its own ledger and WAL.
type cluster = simnet.Cluster[*Engine]

// putRecord is the tests' workload: records.put with the label as the ID.
var putRecord = simnet.Workload{Module: records.Module{}, Method: "put",
	Args: func(id string) []byte { return fmt.Appendf(nil, `{"id":%q,"data":"x"}`, id) }}

// seed returns BFT_SEED if set, else def; tests log it for replay.
func seed(t testing.TB, def uint64) uint64 { return simnet.Seed(t, "BFT_SEED", def) }

func newCluster(t testing.TB, n int, seed uint64) *cluster { return newClusterWith(t, n, seed, nil) }

// newClusterWith is newCluster with every engine's config passed through
// tune (when not nil) last.
func newClusterWith(t testing.TB, n int, seed uint64, tune func(*Config)) *cluster {
	return simnet.NewCluster(t, simnet.Config[*Engine]{Validators: n, Seed: seed, Consensus: chain.ConsensusBFT,
		Workload: putRecord, DebugEnv: "BFT_DEBUG", Open: func(n simnet.Node) (*Engine, error) {
			cfg := DefaultConfig()
			cfg.ChainID, cfg.App, cfg.Suite, cfg.Key = n.Genesis.ChainID, n.Rep, n.Suite, n.Key
			cfg.Validators, cfg.SelfID = n.Genesis.Validators, n.SelfID
			cfg.Net, cfg.WALDir, cfg.Logger = n.Net, n.Dir, n.Logger
			cfg.ViewChangeTimeout, cfg.RequestComplainTimeout = 2*time.Second, 2*time.Second
			cfg.StuckAfter = 3 * time.Second
			if tune != nil {
				tune(&cfg)
			}
			return New(cfg)
		}})
}
