package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
)

// App is the chain a validator orders (implemented by replica.Replica).
type App interface {
	consensus.Application
	// Block returns a committed block.
	Block(h uint64) (*chain.Block, error)
	// Stale reports whether a transaction can never be included any more.
	Stale(tx *chain.Tx) bool
	// Submit admits a transaction to the local mempool (a peer forwarded it).
	Submit(tx *chain.Tx) (crypto.Hash, error)
}

// Config for an engine. Timeouts follow hashicorp/raft's Config.
type Config struct {
	ChainID    string
	App        App
	Suite      crypto.Suite
	Key        crypto.PrivateKey // this validator's key
	Validators chain.ValidatorSet
	SelfID     string // this validator's ID in Validators (its Raft server ID)
	Net        consensus.Network
	Dir        string // Raft log, stable store and snapshots
	Logger     *slog.Logger
	Clock      func() time.Time

	// MaxTxs bounds a block's transactions.
	MaxTxs int
	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// CommitTimeout are passed to hashicorp/raft.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// RPCTimeout bounds one Raft RPC over the Network (a dropped message
	// costs this long before raft retries).
	RPCTimeout time.Duration
	// VoteRetry is how often the leader asks again for missing certificate
	// signatures.
	VoteRetry time.Duration
	// ForwardRetry is how often a follower forwards again the transactions
	// it accepted that are not committed yet (a leader may have died with
	// them).
	ForwardRetry time.Duration
	// RestoreTimeout bounds fetching the blocks a snapshot from the leader
	// is ahead by.
	RestoreTimeout time.Duration
	// SnapshotThreshold, SnapshotInterval and TrailingLogs govern log
	// compaction (hashicorp/raft's fields of the same names).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

// DefaultConfig returns production defaults; the caller fills the identity fields.
func DefaultConfig() Config {
	return Config{
		MaxTxs:             5000,
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		RPCTimeout:         5 * time.Second,
		VoteRetry:          250 * time.Millisecond,
		ForwardRetry:       2 * time.Second,
		RestoreTimeout:     2 * time.Minute,
		SnapshotThreshold:  8192,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
	}
}

// KeepLogFor bounds the log to about the blocks a ledger retains (two
// entries per block, a proposal and its certificate), at least
// MinKeptLog entries: without it the log would keep thousands of blocks the
// ledger has pruned. A node further behind than the log gets a snapshot and
// fetches the blocks, or restores a state snapshot when its peers pruned
// them too. retain 0 (keep every block) leaves the log's bounds as they are.
func (c *Config) KeepLogFor(retain uint64) {
	if retain == 0 {
		return
	}
	n := max(2*retain, MinKeptLog)
	c.TrailingLogs = min(c.TrailingLogs, n)
	c.SnapshotThreshold = min(c.SnapshotThreshold, n)
}

// MinKeptLog is KeepLogFor's floor: a follower that pauses for a few
// hundred blocks catches up from the log rather than by state sync.
const MinKeptLog = 1024

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("raft: invalid config")

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.App == nil || c.Suite == nil || c.Key == nil || c.Net == nil || c.Dir == "":
		return fmt.Errorf("%w: app, suite, key, network and directory are required", ErrConfig)
	case c.MaxTxs <= 0 || c.MaxTxs > chain.MaxBlockTxs:
		return fmt.Errorf("%w: MaxTxs %d", ErrConfig, c.MaxTxs)
	case c.RPCTimeout <= 0 || c.VoteRetry <= 0 || c.ForwardRetry <= 0 || c.RestoreTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	}
	if err := c.Validators.Validate(c.Suite); err != nil {
		return err
	}
	if !c.Validators.CrashFaultOnly {
		return fmt.Errorf("%w: a Raft chain's validator set must be crash_fault_only (majority certificates)", ErrConfig)
	}
	idx := c.Validators.Index(c.SelfID)
	if idx < 0 {
		return fmt.Errorf("%w: %q is not a validator of %s", ErrConfig, c.SelfID, c.ChainID)
	}
	if string(c.Validators.Validators[idx].PubKey) != string(c.Key.Public().Bytes()) {
		return fmt.Errorf("%w: key does not match validator %q", ErrConfig, c.SelfID)
	}
	return nil
}
