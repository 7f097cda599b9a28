package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/replica"
)

// RestoreChain restores chain g under dataDir (a node's home) from a
// snapshot stream, verified against g; the node then continues the chain by
// sync. The chain's directory must not exist or be empty: its ledger, WAL
// and Raft state belong together, and a restore replaces all of them.
func RestoreChain(dataDir string, g *chain.Genesis, rd io.Reader) (uint64, error) {
	s, err := suites.ByName(g.Suite)
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(dataDir, "chains", g.ChainID)
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return 0, fmt.Errorf("chain %s already has data in %s: remove it to restore from a snapshot", g.ChainID, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	return replica.RestoreSnapshot(replica.Config{Genesis: g, Suite: s, Dir: ledgerDir(dataDir, g.ChainID)}, rd)
}

// ledgerDir is where a node keeps a chain's ledger.
func ledgerDir(dataDir, chainID string) string {
	return filepath.Join(dataDir, "chains", chainID, "ledger")
}
