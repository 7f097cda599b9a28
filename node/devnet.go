package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/domains/records"
)

// DevnetChains are the chains of the embedded federation, in start order.
var DevnetChains = []struct{ ID, Kind, Parent string }{
	{"governance", chain.KindGovernance, ""},
	{"identity", chain.KindIdentity, "governance"},
	{"civil-affairs", chain.KindDepartment, "governance"},
	{"education", chain.KindDepartment, "governance"},
	{"health", chain.KindDepartment, "governance"},
	{"justice", chain.KindDepartment, "governance"},
}

// DevnetValidatorID is the one validator of every devnet chain.
const DevnetValidatorID = "devnet-0"

// Devnet returns the chain specs of the embedded federation under dataDir,
// creating the validator key and genesis files on first use and reading
// them back afterwards, so a restart resumes the same chains.
func Devnet(dataDir string, now time.Time) ([]ChainSpec, error) {
	keyPath := filepath.Join(dataDir, "keys", "validator.json")
	_, key, err := keyfile.Load(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		s := suites.Default
		if key, err = s.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
		err = keyfile.Save(keyPath, s, key)
	}
	if err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	var specs []ChainSpec
	for _, c := range DevnetChains {
		path := filepath.Join(dataDir, "genesis", c.ID+".json")
		g, err := LoadGenesis(path)
		if errors.Is(err, os.ErrNotExist) {
			g = devnetGenesis(suites.Default, key, c.ID, c.Kind, c.Parent, now)
			err = writeFileAtomic(path, g.Encode())
		}
		if err != nil {
			return nil, fmt.Errorf("genesis %s: %w", c.ID, err)
		}
		specs = append(specs, ChainSpec{Genesis: g, Key: key})
	}
	return specs, nil
}

func devnetGenesis(s crypto.Suite, key crypto.PrivateKey, id, kind, parent string, now time.Time) *chain.Genesis {
	g := &chain.Genesis{
		ChainID: id, Kind: kind, Parent: parent, Suite: s.Name(),
		Consensus: chain.ConsensusSolo, Time: uint64(now.UnixMilli()),
		Validators: chain.ValidatorSet{Validators: []chain.Validator{{ID: DevnetValidatorID, PubKey: key.Public().Bytes()}}},
		Modules:    []string{},
	}
	if kind == chain.KindDepartment {
		g.Modules = []string{records.Name}
	}
	return g
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

func writeFileAtomic(path string, data []byte) error {
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
