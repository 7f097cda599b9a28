package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/chain/crypto/suites"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/valset"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/domains/records"
	"github.com/polityledger/polity/domains/transfer"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
)

// OperatorKeyFile is the operator key's file name in an init directory.
const OperatorKeyFile = "operator.json"

// A node's home directory holds:
//
//	node.json            NodeConfig
//	keys/validator.json  the node's key (chain suite; Ed25519 also signs TLS)
//	genesis/<chain>.json the genesis of every chain it hosts
//	chains/<chain>/      ledger and consensus WAL
//
// `polity init` writes one home per node and network.json beside them, and
// operator.json: the key of the federation's first administrator (a genesis
// admin of the identity chain's roles, so it can appoint registrars, issuers
// and further admins, and the minter of the departments' transfer units).
// Keep it offline in production.

// NodeConfig is home/node.json.
type NodeConfig struct {
	ID     string       `json:"id"`
	P2P    string       `json:"p2p"`  // listen address for peers
	HTTP   string       `json:"http"` // API listen address
	Peers  []PeerConfig `json:"peers"`
	Chains []string     `json:"chains"`
	// RetainBlocks, if not 0, keeps only the latest blocks of every chain
	// (at least ledger.MinRetainBlocks); a node that falls further behind
	// catches up by state sync from a peer's snapshot.
	RetainBlocks uint64 `json:"retain_blocks,omitempty"`
}

// PeerConfig is another node: its ID, address and public node key (hex).
type PeerConfig struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	PubKey string `json:"pub_key"`
}

// NetworkEntry is one line of network.json.
type NetworkEntry struct {
	ID   string `json:"id"`
	Home string `json:"home"`
	P2P  string `json:"p2p"`
	HTTP string `json:"http"`
}

// Home is a loaded home directory.
type Home struct {
	Dir     string
	Config  NodeConfig
	Key     crypto.PrivateKey  // validator key (chain suite)
	NodeKey ed25519.PrivateKey // transport key
	Chains  []ChainSpec
}

// maxConfig bounds config files read from disk.
const maxConfig = 1 << 20

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) > maxConfig {
		return fmt.Errorf("%s: over %d bytes", path, maxConfig)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// LoadHome reads and checks a node's home directory.
func LoadHome(dir string) (*Home, error) {
	h := &Home{Dir: dir}
	if err := readJSON(filepath.Join(dir, "node.json"), &h.Config); err != nil {
		return nil, err
	}
	s, key, err := keyfile.Load(filepath.Join(dir, "keys", "validator.json"))
	if err != nil {
		return nil, err
	}
	h.Key = key
	if s.Name() != suites.Default.Name() {
		return nil, fmt.Errorf("node key must be %s (it also authenticates TLS)", suites.Default.Name())
	}
	h.NodeKey = ed25519.NewKeyFromSeed(key.Bytes())
	if !chain.ValidName(h.Config.ID) {
		return nil, fmt.Errorf("node.json: id %q is not a valid name", h.Config.ID)
	}
	if r := h.Config.RetainBlocks; r != 0 && r < ledger.MinRetainBlocks {
		return nil, fmt.Errorf("node.json: retain_blocks %d is below %d (0 keeps every block)", r, ledger.MinRetainBlocks)
	}
	for _, p := range h.Config.Peers {
		if _, err := p.Key(); err != nil {
			return nil, fmt.Errorf("node.json: peer %s: %w", p.ID, err)
		}
	}
	for _, id := range h.Config.Chains {
		g, err := LoadGenesis(filepath.Join(dir, "genesis", id+".json"))
		if err != nil {
			return nil, fmt.Errorf("genesis %s: %w", id, err)
		}
		if g.ChainID != id {
			return nil, fmt.Errorf("genesis/%s.json is for chain %q", id, g.ChainID)
		}
		h.Chains = append(h.Chains, ChainSpec{Genesis: g, Key: key})
	}
	return h, nil
}

// Key decodes the peer's public node key.
func (p PeerConfig) Key() (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(p.PubKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("pub_key must be 64 hex characters")
	}
	return ed25519.PublicKey(b), nil
}

// InitOptions configure InitNetwork.
type InitOptions struct {
	Validators int
	Out        string
	// Host is the address nodes listen on; ports come from BasePort
	// (node k: P2P BasePort+2k, HTTP BasePort+2k+1), or free ports when 0.
	Host string
	// Hosts, when set, gives each node its own host name (one per
	// validator, e.g. container names); it overrides Host.
	Hosts    []string
	BasePort int
	Now      time.Time
	// CFT lists chains ordered by Raft (crash faults only) instead of BFT.
	CFT []string
	// Followers adds nodes that host every chain without validating it
	// (in no genesis set; governance may add them): nodes N+1..N+Followers,
	// listed in network.json and in every node's peers.
	Followers int
	// RetainBlocks goes into every node.json (0: keep every block).
	RetainBlocks uint64
}

// InitNetwork writes homes for a network of N validators running the whole
// federation (governance, identity, four departments), every chain BFT with
// the N validators, plus any followers, and Out/network.json.
func InitNetwork(o InitOptions) ([]NetworkEntry, error) {
	if o.Validators < 1 || o.Validators > chain.MaxValidators {
		return nil, fmt.Errorf("validators must be 1..%d", chain.MaxValidators)
	}
	if o.RetainBlocks != 0 && o.RetainBlocks < ledger.MinRetainBlocks {
		return nil, fmt.Errorf("retain-blocks must be 0 or at least %d", ledger.MinRetainBlocks)
	}
	if o.Followers < 0 || o.Followers > 0 && o.Validators == 1 {
		return nil, fmt.Errorf("followers need chains with validator sets (at least 2 validators)")
	}
	if _, err := os.Stat(filepath.Join(o.Out, "network.json")); err == nil {
		return nil, fmt.Errorf("%s already holds a network", o.Out)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if len(o.Hosts) != 0 && len(o.Hosts) != o.Validators+o.Followers {
		return nil, fmt.Errorf("%d hosts for %d nodes", len(o.Hosts), o.Validators+o.Followers)
	}
	for _, id := range o.CFT {
		if !slices.ContainsFunc(DevnetChains, func(c struct{ ID, Kind, Parent string }) bool { return c.ID == id }) {
			return nil, fmt.Errorf("-cft names unknown chain %q", id)
		}
	}
	if len(o.Hosts) != 0 && o.BasePort == 0 {
		return nil, fmt.Errorf("per-node hosts need a base port")
	}
	s := suites.Default
	type nodeInit struct {
		id       string
		key      crypto.PrivateKey
		p2p, api string
	}
	nodes := make([]nodeInit, o.Validators+o.Followers)
	picked := map[string]bool{} // ports given to nodes of this network (not bound yet)
	var vs chain.ValidatorSet
	for i := range nodes {
		k, err := s.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		n := nodeInit{id: fmt.Sprintf("node%d", i+1), key: k}
		host := o.Host
		if len(o.Hosts) != 0 {
			host = o.Hosts[i]
		}
		if o.BasePort > 0 {
			n.p2p = net.JoinHostPort(host, fmt.Sprint(o.BasePort+2*i))
			n.api = net.JoinHostPort(host, fmt.Sprint(o.BasePort+2*i+1))
		} else {
			if n.p2p, err = freePort(o.Host, picked); err != nil {
				return nil, err
			}
			if n.api, err = freePort(o.Host, picked); err != nil {
				return nil, err
			}
		}
		nodes[i] = n
		if i < o.Validators {
			vs.Validators = append(vs.Validators, chain.Validator{ID: n.id, PubKey: k.Public().Bytes()})
		}
	}
	consensus := chain.ConsensusBFT
	if o.Validators == 1 {
		consensus = chain.ConsensusSolo
	}
	operator, err := s.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := keyfile.Save(filepath.Join(o.Out, OperatorKeyFile), s, operator); err != nil {
		return nil, err
	}
	rolesParams, err := json.Marshal(registry.Params{Admins: []string{did.KeyDID(chain.AddressOf(s, operator.Public().Bytes())).String()}})
	if err != nil {
		return nil, err
	}
	var gens []*chain.Genesis
	for _, c := range DevnetChains {
		g := &chain.Genesis{ChainID: c.ID, Kind: c.Kind, Parent: c.Parent, Suite: s.Name(), Consensus: consensus,
			Time: uint64(o.Now.UnixMilli()), Validators: vs, Modules: []string{}}
		if slices.Contains(o.CFT, c.ID) && consensus == chain.ConsensusBFT {
			g.Consensus, g.Validators.CrashFaultOnly = chain.ConsensusRaft, true
		}
		switch c.Kind {
		case chain.KindDepartment:
			g.Modules = []string{records.Name, transfer.Name}
			g.Params = map[string]json.RawMessage{transfer.Name: transfer.MarshalParams(chain.AddressOf(s, operator.Public().Bytes()))}
		case chain.KindGovernance:
			g.Modules = []string{aggregate.Name}
		case chain.KindIdentity:
			g.Modules = []string{registry.DIDModule, registry.RolesModule, registry.TrustModule, registry.StatusModule, registry.ZKKeysModule}
			g.Params = map[string]json.RawMessage{registry.RolesModule: rolesParams}
		}
		if g.Consensus != chain.ConsensusSolo {
			// Validators change by their own votes (a solo chain has one).
			g.Modules = append(g.Modules, valset.Name)
		}
		if err := g.Validate(s); err != nil {
			return nil, err
		}
		gens = append(gens, g)
	}
	var entries []NetworkEntry
	for i, n := range nodes {
		home := filepath.Join(o.Out, n.id)
		if err := keyfile.Save(filepath.Join(home, "keys", "validator.json"), s, n.key); err != nil {
			return nil, err
		}
		cfg := NodeConfig{ID: n.id, P2P: n.p2p, HTTP: n.api, RetainBlocks: o.RetainBlocks}
		for j, p := range nodes {
			if j != i {
				cfg.Peers = append(cfg.Peers, PeerConfig{ID: p.id, Addr: p.p2p, PubKey: hex.EncodeToString(p.key.Public().Bytes())})
			}
		}
		for _, g := range gens {
			cfg.Chains = append(cfg.Chains, g.ChainID)
			if err := WriteFileAtomic(filepath.Join(home, "genesis", g.ChainID+".json"), g.Encode()); err != nil {
				return nil, err
			}
		}
		if err := writeJSON(filepath.Join(home, "node.json"), cfg); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(home)
		if err != nil {
			return nil, err
		}
		entries = append(entries, NetworkEntry{ID: n.id, Home: abs, P2P: n.p2p, HTTP: n.api})
	}
	return entries, writeJSON(filepath.Join(o.Out, "network.json"), entries)
}

// LoadNetwork reads network.json.
func LoadNetwork(path string) ([]NetworkEntry, error) {
	var entries []NetworkEntry
	return entries, readJSON(path, &entries)
}

// freePort returns host:port with a port free now and not in picked (the
// ports already given to this network's nodes, which are not bound yet),
// and adds it there. It tries random ports below Linux's default ephemeral
// range (32768–60999) first: a port the kernel handed out and took back
// may be given to an outgoing connection before the node binds it, which
// then fails with "address in use".
func freePort(host string, picked map[string]bool) (string, error) {
	for range 64 {
		port := lowPortMin + mrand.IntN(lowPortMax-lowPortMin)
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if picked[addr] {
			continue
		}
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			picked[addr] = true
			return addr, nil
		}
	}
	for range 64 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		if !picked[addr] {
			picked[addr] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free port on %s", host)
}

// The range freePort tries first.
const lowPortMin, lowPortMax = 20000, 32768
