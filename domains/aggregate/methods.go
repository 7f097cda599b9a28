package aggregate

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/privacy/he"
)

func propose(ctx *module.Context, args []byte) error {
	var a ProposeArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkID(a.ID); err != nil {
		return err
	}
	if len(a.Description) > MaxDescriptionLen || !codec.Printable(a.Description) {
		return fmt.Errorf("%w: description must be at most %d printable bytes", ErrBadArgs, MaxDescriptionLen)
	}
	n := len(a.Participants)
	if n < 2 || n > MaxParticipants {
		return fmt.Errorf("%w: %d participants, want 2..%d", ErrBadArgs, n, MaxParticipants)
	}
	seen := map[string]bool{}
	for _, p := range a.Participants {
		if err := checkAddress(p); err != nil {
			return err
		}
		if seen[p] {
			return fmt.Errorf("%w: participant %s named twice", ErrBadArgs, p)
		}
		seen[p] = true
	}
	if a.Threshold < 2 || a.Threshold > n {
		return fmt.Errorf("%w: threshold %d, want 2..%d", ErrBadArgs, a.Threshold, n)
	}
	if a.VectorLen < 1 || a.VectorLen > MaxVectorLen {
		return fmt.Errorf("%w: vector length %d, want 1..%d", ErrBadArgs, a.VectorLen, MaxVectorLen)
	}
	h := ctx.Block.Height
	if a.Deadline <= h || a.Deadline-h > MaxDeadlineSpan {
		return fmt.Errorf("%w: deadline %d must be within %d blocks after %d", ErrBadArgs, a.Deadline, MaxDeadlineSpan, h)
	}
	if bt := ctx.Block.Time; a.DeadlineTime != 0 && (a.DeadlineTime <= bt || a.DeadlineTime-bt > MaxDeadlineTimeSpan) {
		return fmt.Errorf("%w: deadline_time %d must be within %d ms after the block time %d", ErrBadArgs, a.DeadlineTime, MaxDeadlineTimeSpan, bt)
	}
	if a.Aggregator == "" {
		a.Aggregator = ctx.Sender.String()
	} else if err := checkAddress(a.Aggregator); err != nil {
		return err
	}
	raw, err := ctx.Get(Key(a.ID))
	if err != nil {
		return err
	}
	if raw != nil {
		return fmt.Errorf("%w: %q", ErrExists, a.ID)
	}
	q := &Query{
		ID: a.ID, Description: a.Description, Proposer: ctx.Sender.String(), Aggregator: a.Aggregator,
		Participants: a.Participants, Threshold: a.Threshold, VectorLen: a.VectorLen,
		Deadline: a.Deadline, DeadlineTime: a.DeadlineTime, ProposedAt: h, Phase: PhaseProposed,
		Approved: make([]bool, n), BoxKeys: make([]string, n), KeyShares: make([]string, n),
		Contributions: make([]string, n), DecryptionShares: make([]string, n),
	}
	if err := store(ctx, q); err != nil {
		return err
	}
	return ctx.Emit("query_proposed", "id", q.ID, "proposer", q.Proposer, "aggregator", q.Aggregator,
		"participants", strconv.Itoa(n), "threshold", strconv.Itoa(q.Threshold), "deadline", strconv.FormatUint(q.Deadline, 10))
}

func approve(ctx *module.Context, args []byte) error {
	var a ApproveArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkHash("box_key", a.BoxKey); err != nil {
		return err
	}
	q, err := load(ctx, a.ID)
	if err != nil {
		return err
	}
	if err := open(ctx, q, PhaseProposed); err != nil {
		return err
	}
	i, err := participant(ctx, q)
	if err != nil {
		return err
	}
	if q.Approved[i] {
		return fmt.Errorf("%w: approval of %q", ErrDuplicate, q.ID)
	}
	q.Approved[i], q.BoxKeys[i] = true, a.BoxKey
	if err := ctx.Emit("query_approved", "id", q.ID, "by", q.Participants[i]); err != nil {
		return err
	}
	if all(q.Approved) {
		if err := setPhase(ctx, q, PhaseKeyGen); err != nil {
			return err
		}
	}
	return store(ctx, q)
}

func all(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

func count(hs []string) int {
	c := 0
	for _, h := range hs {
		if h != "" {
			c++
		}
	}
	return c
}

// next is the phase after each hash-collecting phase once every
// participant recorded its hash; decryption waits for publish_result.
var next = map[string]string{PhaseKeyGen: PhaseContribution, PhaseContribution: PhaseDecryption}

// stepHandler records the sender's hash for one protocol step.
func stepHandler(phase string, slot func(*Query) []string, event string) module.Handler {
	return func(ctx *module.Context, args []byte) error {
		var a HashArgs
		if err := decodeArgs(args, &a); err != nil {
			return err
		}
		if err := checkHash("hash", a.Hash); err != nil {
			return err
		}
		q, err := load(ctx, a.ID)
		if err != nil {
			return err
		}
		if err := open(ctx, q, phase); err != nil {
			return err
		}
		i, err := participant(ctx, q)
		if err != nil {
			return err
		}
		hs := slot(q)
		if hs[i] != "" {
			return fmt.Errorf("%w: %s of %q", ErrDuplicate, event, q.ID)
		}
		hs[i] = a.Hash
		if err := ctx.Emit(event, "id", q.ID, "from", q.Participants[i], "hash", a.Hash); err != nil {
			return err
		}
		if nx, ok := next[phase]; ok && count(hs) == len(hs) {
			if err := setPhase(ctx, q, nx); err != nil {
				return err
			}
		}
		return store(ctx, q)
	}
}

func publish(ctx *module.Context, args []byte) error {
	var a PublishArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	if err := checkHash("result_hash", a.ResultHash); err != nil {
		return err
	}
	if err := checkHash("aggregate_hash", a.AggregateHash); err != nil {
		return err
	}
	q, err := load(ctx, a.ID)
	if err != nil {
		return err
	}
	if err := open(ctx, q, PhaseDecryption); err != nil {
		return err
	}
	if ctx.Sender.String() != q.Aggregator {
		return fmt.Errorf("%w: %s for %q", ErrNotAggregator, ctx.Sender, q.ID)
	}
	if c := count(q.DecryptionShares); c < q.Threshold {
		return fmt.Errorf("%w: %d of %d recorded for %q", ErrTooFewShares, c, q.Threshold, q.ID)
	}
	if a.Values != nil {
		if len(a.Values) != q.VectorLen {
			return fmt.Errorf("%w: %d values for a vector of %d", ErrBadArgs, len(a.Values), q.VectorLen)
		}
		// Hashing is work the module does itself: charge for it.
		if err := ctx.Charge(uint64(len(a.Values)) * 8 * module.CostReadByte); err != nil {
			return err
		}
		if h := he.ResultHash(a.Values); hex.EncodeToString(h[:]) != a.ResultHash {
			return fmt.Errorf("%w: query %q", ErrResultMismatch, q.ID)
		}
		q.Result = a.Values
	}
	q.ResultHash, q.AggregateHash, q.ClosedAt = a.ResultHash, a.AggregateHash, ctx.Block.Height
	if err := ctx.Emit("query_result", "id", q.ID, "result_hash", a.ResultHash, "aggregate_hash", a.AggregateHash); err != nil {
		return err
	}
	if err := setPhase(ctx, q, PhaseDone); err != nil {
		return err
	}
	return store(ctx, q)
}

func abort(ctx *module.Context, args []byte) error {
	var a IDArgs
	if err := decodeArgs(args, &a); err != nil {
		return err
	}
	q, err := load(ctx, a.ID)
	if err != nil {
		return err
	}
	if q.Final() {
		return fmt.Errorf("%w: query %q is already %s", ErrWrongPhase, q.ID, q.Phase)
	}
	if !q.Expired(ctx.Block.Height, ctx.Block.Time) {
		return fmt.Errorf("%w: query %q runs until height %d (time %d), block is %d at %d", ErrBeforeDeadline, q.ID, q.Deadline, q.DeadlineTime, ctx.Block.Height, ctx.Block.Time)
	}
	q.ClosedAt = ctx.Block.Height
	if err := ctx.Emit("query_aborted", "id", q.ID, "by", ctx.Sender.String(), "phase", q.Phase); err != nil {
		return err
	}
	if err := setPhase(ctx, q, PhaseAborted); err != nil {
		return err
	}
	return store(ctx, q)
}
