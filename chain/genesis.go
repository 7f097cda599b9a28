package chain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/polityledger/polity/chain/crypto"
)

// Chain kinds in the federation.
const (
	KindGovernance = "governance"
	KindIdentity   = "identity"
	KindDepartment = "department"
)

// Consensus kinds a genesis may choose.
const (
	ConsensusSolo = "solo"
	ConsensusBFT  = "bft"
	ConsensusRaft = "raft"
)

// MaxGenesisSize bounds a genesis file.
const MaxGenesisSize = 1 << 20

// ErrBadGenesis wraps every genesis validation error.
var ErrBadGenesis = errors.New("invalid genesis")

// Genesis fixes a chain's identity and rules. Its hash is the parent hash of
// the height-0 header, so the genesis block commits to every field here.
type Genesis struct {
	ChainID     string       `json:"chain_id"`
	Kind        string       `json:"kind"`
	Parent      string       `json:"parent,omitempty"` // parent chain in the federation
	Suite       string       `json:"suite"`
	Consensus   string       `json:"consensus"`
	Time        uint64       `json:"time"` // Unix milliseconds
	Validators  ValidatorSet `json:"validator_set"`
	Modules     []string     `json:"modules"`
	TxWorkLimit uint64       `json:"tx_work_limit,omitempty"`
	MaxBlockTxs int          `json:"max_block_txs,omitempty"`
	// Params holds per-module parameters by module name (each a JSON
	// object the module validates when the chain's registry is built).
	// encoding/json writes map keys sorted, so the encoding stays canonical;
	// a genesis without params encodes, and hashes, as before.
	Params map[string]json.RawMessage `json:"params,omitempty"`
}

// Limits on module parameters.
const MaxModuleParamsSize = 64 << 10

// DecodeGenesis parses a genesis document strictly (unknown fields and
// trailing data are errors).
func DecodeGenesis(b []byte) (*Genesis, error) {
	if len(b) > MaxGenesisSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadGenesis, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	g := new(Genesis)
	if err := dec.Decode(g); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGenesis, err)
	}
	// dec.More would miss a trailing '}' or ']': only the end of input will do.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrBadGenesis)
	}
	// The canonical encoding can be longer than the input (json.Marshal
	// escapes <, > and &); it must stay decodable, as the ledger stores it.
	if n := len(g.Encode()); n > MaxGenesisSize {
		return nil, fmt.Errorf("%w: encodes to %d bytes", ErrBadGenesis, n)
	}
	return g, nil
}

// Encode returns the canonical JSON form (Go's encoder is deterministic for structs).
func (g *Genesis) Encode() []byte {
	b, err := json.Marshal(g)
	if err != nil {
		panic(err) // only plain types: cannot fail
	}
	return b
}

// Validate checks the genesis against suite s (the suite it names).
func (g *Genesis) Validate(s crypto.Suite) error {
	switch {
	case !ValidName(g.ChainID):
		return fmt.Errorf("%w: chain_id %q", ErrBadGenesis, g.ChainID)
	case g.Kind != KindGovernance && g.Kind != KindIdentity && g.Kind != KindDepartment:
		return fmt.Errorf("%w: kind %q", ErrBadGenesis, g.Kind)
	case g.Consensus != ConsensusSolo && g.Consensus != ConsensusBFT && g.Consensus != ConsensusRaft:
		return fmt.Errorf("%w: consensus %q", ErrBadGenesis, g.Consensus)
	case g.Suite != s.Name():
		return fmt.Errorf("%w: suite %q", ErrBadGenesis, g.Suite)
	case g.MaxBlockTxs < 0 || g.MaxBlockTxs > MaxBlockTxs:
		return fmt.Errorf("%w: max_block_txs %d", ErrBadGenesis, g.MaxBlockTxs)
	case g.Consensus == ConsensusSolo && len(g.Validators.Validators) != 1:
		return fmt.Errorf("%w: solo consensus needs exactly one validator", ErrBadGenesis)
	case (g.Consensus == ConsensusRaft) != g.Validators.CrashFaultOnly:
		// The quorum rule is part of the validator set's hash, which light
		// clients trust: a Raft chain certifies with a majority, every
		// other chain with the BFT quorum.
		return fmt.Errorf("%w: crash_fault_only must be set exactly when consensus is raft", ErrBadGenesis)
	}
	for _, m := range g.Modules {
		if !ValidName(m) {
			return fmt.Errorf("%w: module %q", ErrBadGenesis, m)
		}
	}
	if err := g.validateParams(); err != nil {
		return err
	}
	if err := g.Validators.Validate(s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadGenesis, err)
	}
	return nil
}

// Header returns the height-0 header: parent = hash of the genesis document,
// empty transaction and receipt lists, the given initial state root.
func (g *Genesis) Header(s crypto.Suite, stateRoot crypto.Hash) *Header {
	empty := s.Hash()
	return &Header{
		ChainID:        g.ChainID,
		Height:         0,
		Time:           g.Time,
		Parent:         s.Hash(g.Encode()),
		Proposer:       "genesis",
		TxRoot:         empty,
		StateRoot:      stateRoot,
		ReceiptsRoot:   empty,
		ValidatorsHash: g.Validators.Hash(s),
	}
}

// StateKeyHash is the sparse Merkle tree key of a state key.
func StateKeyHash(s crypto.Suite, key []byte) crypto.Hash { return s.Hash(key) }

// validateParams checks that parameters name listed modules and are bounded
// JSON objects.
func (g *Genesis) validateParams() error {
	for name, raw := range g.Params {
		if !slices.Contains(g.Modules, name) {
			return fmt.Errorf("%w: params for module %q, which the genesis does not list", ErrBadGenesis, name)
		}
		if len(raw) > MaxModuleParamsSize {
			return fmt.Errorf("%w: params for module %q exceed %d bytes", ErrBadGenesis, name, MaxModuleParamsSize)
		}
		trimmed := bytes.TrimLeft(raw, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(raw) {
			return fmt.Errorf("%w: params for module %q must be a JSON object", ErrBadGenesis, name)
		}
	}
	return nil
}
