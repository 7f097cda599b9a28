package node

import (
	"os"
	"path/filepath"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/suites"
)

// DevnetChains are the chains of the federation `polity init` and the
// devnet create, in start order.
var DevnetChains = []struct{ ID, Kind, Parent string }{
	{"governance", chain.KindGovernance, ""},
	{"identity", chain.KindIdentity, "governance"},
	{"civil-affairs", chain.KindDepartment, "governance"},
	{"education", chain.KindDepartment, "governance"},
	{"health", chain.KindDepartment, "governance"},
	{"justice", chain.KindDepartment, "governance"},
}

// LoadGenesis reads and validates a genesis file.
func LoadGenesis(path string) (*chain.Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := chain.DecodeGenesis(b)
	if err != nil {
		return nil, err
	}
	s, err := suites.ByName(g.Suite)
	if err != nil {
		return nil, err
	}
	return g, g.Validate(s)
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, so a crash leaves the old file or the new one, never a mix.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
