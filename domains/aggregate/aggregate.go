// Package aggregate is the governance-chain module that records threshold
// homomorphic aggregation queries (privacy/he): a query is proposed naming
// its participants and threshold, approved by every participant, and then
// each protocol step is recorded as hashes (key shares, contributions,
// decryption shares) until the aggregator publishes the result. A query that
// has no result by its deadline height can be aborted by anyone, so a
// department that drops out cannot stall it forever.
//
// The module is deterministic: deadlines are block heights, never clock time.
package aggregate

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/privacy/he"
)

// Name is the module's name in transactions.
const Name = "aggregate"

// Limits on arguments.
const (
	MaxIDLen          = he.MaxIDLen
	MaxDescriptionLen = 1024
	MaxParticipants   = he.MaxParties
	MaxVectorLen      = he.Slots
	// MaxDeadlineSpan bounds how far ahead of the proposal a deadline may be.
	MaxDeadlineSpan = 1_000_000
	// MaxDeadlineTimeSpan bounds, in milliseconds of block time, how far
	// ahead of the proposal's block a deadline_time may be (30 days).
	MaxDeadlineTimeSpan = 30 * 24 * 3600 * 1000
)

// Phases of a query, in order; "done" and "aborted" are final.
const (
	PhaseProposed     = "proposed"     // waiting for every participant's approval
	PhaseKeyGen       = "keygen"       // waiting for every key-share hash
	PhaseContribution = "contribution" // waiting for every contribution hash
	PhaseDecryption   = "decryption"   // collecting decryption-share hashes, then the result
	PhaseDone         = "done"
	PhaseAborted      = "aborted"
)

// Errors returned by the module (their text goes into failed receipts).
var (
	ErrBadArgs        = errors.New("aggregate: bad arguments")
	ErrNotFound       = errors.New("aggregate: no such query")
	ErrExists         = errors.New("aggregate: query ID already used")
	ErrNotParticipant = errors.New("aggregate: sender is not a participant")
	ErrNotAggregator  = errors.New("aggregate: sender is not the query's aggregator")
	ErrWrongPhase     = errors.New("aggregate: wrong phase for this step")
	ErrDuplicate      = errors.New("aggregate: step already recorded for this sender")
	ErrPastDeadline   = errors.New("aggregate: deadline passed")
	ErrBeforeDeadline = errors.New("aggregate: deadline not passed yet")
	ErrTooFewShares   = errors.New("aggregate: fewer decryption shares than the threshold")
	ErrResultMismatch = errors.New("aggregate: values do not match the result hash")
)

// ProposeArgs are the arguments of aggregate.propose. Participants are
// sender addresses (40 lowercase hex characters) in the order that gives
// their protocol indexes; Aggregator defaults to the proposer.
//
// Deadline is a block height. DeadlineTime, if set, is a second deadline in
// block time (Unix milliseconds, the proposer's validated clock): a query
// ends at whichever comes first. An idle chain makes no blocks, so only a
// time deadline bounds a query in wall-clock terms: the abort transaction
// itself makes the block whose time is past it.
type ProposeArgs struct {
	ID           string   `json:"id"`
	Description  string   `json:"description"`
	Participants []string `json:"participants"`
	Threshold    int      `json:"threshold"`
	VectorLen    int      `json:"vector_len"`
	Deadline     uint64   `json:"deadline"`
	DeadlineTime uint64   `json:"deadline_time,omitempty"`
	Aggregator   string   `json:"aggregator,omitempty"`
}

// IDArgs are the arguments of aggregate.abort.
type IDArgs struct {
	ID string `json:"id"`
}

// ApproveArgs are the arguments of aggregate.approve. BoxKey is the
// participant's X25519 public key for this query (64 lowercase hex
// characters): the other participants seal their Shamir shares to it
// (privacy/he). The approval is signed by the participant's key, so the
// record binds the box key to the participant.
type ApproveArgs struct {
	ID     string `json:"id"`
	BoxKey string `json:"box_key"`
}

// HashArgs are the arguments of the submit_* methods: the SHA-256 (hex) of
// the sender's protocol message (he.Outbound.Hash).
type HashArgs struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// PublishArgs are the arguments of aggregate.publish_result. ResultHash is
// he.ResultHash of the values; Values, if given, must match it and are
// stored (they must fit a transaction).
type PublishArgs struct {
	ID            string   `json:"id"`
	ResultHash    string   `json:"result_hash"`
	AggregateHash string   `json:"aggregate_hash"`
	Values        []uint64 `json:"values,omitempty"`
}

// Query is the stored record of one query. Per-participant slices follow
// Participants; an empty hash means "not yet".
type Query struct {
	ID               string   `json:"id"`
	Description      string   `json:"description"`
	Proposer         string   `json:"proposer"`
	Aggregator       string   `json:"aggregator"`
	Participants     []string `json:"participants"`
	Threshold        int      `json:"threshold"`
	VectorLen        int      `json:"vector_len"`
	Deadline         uint64   `json:"deadline"`
	DeadlineTime     uint64   `json:"deadline_time,omitempty"`
	ProposedAt       uint64   `json:"proposed_at"`
	Phase            string   `json:"phase"`
	Approved         []bool   `json:"approved"`
	BoxKeys          []string `json:"box_keys"`
	KeyShares        []string `json:"key_shares"`
	Contributions    []string `json:"contributions"`
	DecryptionShares []string `json:"decryption_shares"`
	AggregateHash    string   `json:"aggregate_hash,omitempty"`
	ResultHash       string   `json:"result_hash,omitempty"`
	Result           []uint64 `json:"result,omitempty"`
	ClosedAt         uint64   `json:"closed_at,omitempty"` // height of result or abort
}

// Module implements module.Module.
type Module struct{}

var _ module.Module = Module{}

// Name implements module.Module.
func (Module) Name() string { return Name }

// Methods implements module.Module.
func (Module) Methods() []module.Method {
	return []module.Method{
		{Name: "propose", Handler: propose},
		{Name: "approve", Handler: approve},
		{Name: "submit_key_share_hash", Handler: stepHandler(PhaseKeyGen, func(q *Query) []string { return q.KeyShares }, "key_share_hash")},
		{Name: "submit_contribution", Handler: stepHandler(PhaseContribution, func(q *Query) []string { return q.Contributions }, "contribution")},
		{Name: "submit_decryption_share", Handler: stepHandler(PhaseDecryption, func(q *Query) []string { return q.DecryptionShares }, "decryption_share")},
		{Name: "publish_result", Handler: publish},
		{Name: "abort", Handler: abort},
	}
}

// Key is the module-local state key of a query.
func Key(id string) []byte { return []byte("q/" + id) }

// StateKey is the full state key of a query, for proofs.
func StateKey(id string) []byte { return module.StateKey(Name, Key(id)) }

func decodeArgs(args []byte, v any) error {
	if err := module.StrictJSON(args, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgs, err)
	}
	return nil
}

// checkID accepts what he.Query accepts: printable ASCII without spaces.
func checkID(id string) error {
	ok := id != "" && len(id) <= MaxIDLen
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] > 0x20 && id[i] < 0x7f
	}
	if !ok {
		return fmt.Errorf("%w: id must be 1..%d printable ASCII characters without spaces", ErrBadArgs, MaxIDLen)
	}
	return nil
}

// checkAddress accepts canonical (lowercase) addresses only, so one account
// has one spelling.
func checkAddress(s string) error {
	a, err := chain.ParseAddress(s)
	if err != nil || a.String() != s {
		return fmt.Errorf("%w: %q is not a lowercase hex address", ErrBadArgs, s)
	}
	return nil
}

func checkHash(name, h string) error {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 || hex.EncodeToString(b) != h {
		return fmt.Errorf("%w: %s must be 64 lowercase hex characters", ErrBadArgs, name)
	}
	return nil
}

func load(ctx *module.Context, id string) (*Query, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	raw, err := ctx.Get(Key(id))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var q Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, fmt.Errorf("aggregate: stored query %q corrupt: %w", id, err)
	}
	return &q, nil
}

func store(ctx *module.Context, q *Query) error {
	val, err := json.Marshal(q)
	if err != nil {
		return err
	}
	return ctx.Set(Key(q.ID), val)
}

// participant returns the sender's index in q, or ErrNotParticipant.
func participant(ctx *module.Context, q *Query) (int, error) {
	s := ctx.Sender.String()
	for i, p := range q.Participants {
		if p == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: %s in query %q", ErrNotParticipant, s, q.ID)
}

// Final reports whether the query is done or aborted.
func (q *Query) Final() bool { return q.Phase == PhaseDone || q.Phase == PhaseAborted }

// Expired reports whether a block at height with the given time (Unix
// milliseconds) is past the query's deadline: its height is greater than
// Deadline, or DeadlineTime is set and the time is greater than it.
func (q *Query) Expired(height, time uint64) bool {
	return height > q.Deadline || (q.DeadlineTime != 0 && time > q.DeadlineTime)
}

// open checks that q is in phase and its deadline has not passed.
func open(ctx *module.Context, q *Query, phase string) error {
	if q.Phase != phase {
		return fmt.Errorf("%w: query %q is %s, not %s", ErrWrongPhase, q.ID, q.Phase, phase)
	}
	if q.Expired(ctx.Block.Height, ctx.Block.Time) {
		return fmt.Errorf("%w: query %q had deadline height %d time %d, block is %d at %d", ErrPastDeadline, q.ID, q.Deadline, q.DeadlineTime, ctx.Block.Height, ctx.Block.Time)
	}
	return nil
}

func setPhase(ctx *module.Context, q *Query, phase string) error {
	q.Phase = phase
	return ctx.Emit("query_phase", "id", q.ID, "phase", phase)
}
