package aggregation

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/aggregate"
)

// Channel is the mesh channel (a reserved chain ID) that carries protocol
// messages between drivers. No chain may use this ID.
const Channel = "polity.he-aggregate"

// AggregatorPrefix prefixes the aggregator's protocol ID: the aggregator of a
// query is "aggregator:" + its node address, so it differs from every member
// ID (the node addresses) even when the aggregator's node is a participant.
const AggregatorPrefix = "aggregator:"

// Mesh gives the driver its channel among the federation's nodes (a
// *p2p.Transport). Messages up to consensus.MaxMessageSize (16 MiB) pass, far
// above he.MaxMessageSize.
type Mesh interface {
	Chain(chainID string, members map[uint64]string, self uint64, r consensus.Receiver) consensus.Network
}

// Peer is another node of the federation: its mesh ID and node key.
type Peer struct {
	ID     string
	PubKey ed25519.PublicKey
}

// Config of a Driver.
type Config struct {
	// Chain is the governance chain: it must run the aggregate module and
	// use the Ed25519 suite of node keys.
	Chain *replica.Replica
	// NodeID is this node's mesh ID; Key its node key (chain suite form).
	NodeID string
	Key    crypto.PrivateKey
	// Peers are the other nodes (an entry for this node is ignored).
	Peers []Peer
	Mesh  Mesh
	// StateFile remembers the scanned height and open queries across
	// restarts ("" keeps them in memory only).
	StateFile string
	Logger    *slog.Logger
	// Clock is the wall clock for deadline_time and retransmissions.
	Clock func() time.Time
	// RetryMin and RetryMax bound the retransmission back-off of
	// unacknowledged messages (defaults 300 ms and 5 s).
	RetryMin, RetryMax time.Duration
	// AbortMargin is how long past deadline_time (by this node's clock) the
	// driver waits before submitting abort, so the block it lands in carries
	// a later time despite clock skew (default 1 s).
	AbortMargin time.Duration
}

// DefaultConfig returns the defaults for the timing fields.
func DefaultConfig() Config {
	return Config{Clock: time.Now, RetryMin: 300 * time.Millisecond, RetryMax: 5 * time.Second, AbortMargin: time.Second}
}

// Validate checks cfg.
func (c *Config) Validate() error {
	switch {
	case c.Chain == nil:
		return errors.New("aggregation: no governance chain")
	case c.Mesh == nil:
		return errors.New("aggregation: no mesh")
	case c.Key == nil:
		return errors.New("aggregation: no node key")
	case !chain.ValidName(Channel):
		return errors.New("aggregation: invalid channel name")
	case c.Clock == nil || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.AbortMargin < 0:
		return errors.New("aggregation: invalid timing configuration")
	}
	g := c.Chain.Genesis()
	if !hasModule(g, aggregate.Name) {
		return fmt.Errorf("aggregation: chain %s does not run the %s module", g.ChainID, aggregate.Name)
	}
	if c.Chain.Suite().Name() != "ed25519-sha256" || len(c.Key.Bytes()) != ed25519.SeedSize {
		return fmt.Errorf("%w: chain %s uses suite %s; node keys are Ed25519", ErrUnavailable, g.ChainID, c.Chain.Suite().Name())
	}
	for _, p := range c.Peers {
		if len(p.PubKey) != ed25519.PublicKeySize || p.ID == "" {
			return fmt.Errorf("aggregation: peer %q needs an ID and an Ed25519 key", p.ID)
		}
	}
	return nil
}

func hasModule(g *chain.Genesis, name string) bool {
	for _, m := range g.Modules {
		if m == name {
			return true
		}
	}
	return false
}

// Errors of SubmitInput; test with errors.Is.
var (
	// ErrUnavailable: the driver is not running (stopped, or the node has no
	// suitable governance chain).
	ErrUnavailable = errors.New("aggregation: not available on this node")
	// ErrNotFound: no query with that ID on the governance chain.
	ErrNotFound = errors.New("aggregation: no such query")
	// ErrNotParticipant: this node is not a participant of the query.
	ErrNotParticipant = errors.New("aggregation: this node is not a participant")
	// ErrWrongPhase: the query no longer takes inputs (it left "proposed").
	ErrWrongPhase = errors.New("aggregation: query does not take input in this phase")
	// ErrExpired: the query's deadline has passed.
	ErrExpired = errors.New("aggregation: query deadline passed")
	// ErrInputExists: this node already gave its input (or approved the
	// query before a restart, losing its key material).
	ErrInputExists = errors.New("aggregation: input already submitted")
	// ErrBadInput: the vector has the wrong length or a value too large.
	ErrBadInput = errors.New("aggregation: invalid input vector")
)
