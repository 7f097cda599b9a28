package aggregate_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec/exectest"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/privacy/he"
)

const chainID = "governance-test"

var suite = ed25519sha256.New()

// ledger runs one transaction per block through the serial executor, at a
// height the tests set.
type ledger struct{ *exectest.Chain }

func newLedger(t *testing.T) *ledger {
	c := exectest.New(t, suite, chainID, aggregate.Module{})
	c.Height, c.Advance = 10, false
	return &ledger{c}
}

func (l *ledger) addr(name string) string { return l.Addr(name).String() }

// call runs one transaction and returns the failure (nil on success).
func (l *ledger) call(sender, method string, args any) error {
	l.T.Helper()
	return l.Call(sender, aggregate.Name, method, args)
}

// must fails the test if the call fails.
func (l *ledger) must(sender, method string, args any) {
	l.T.Helper()
	l.Must(sender, aggregate.Name, method, args)
}

// refused checks that the call fails with the sentinel's text.
func (l *ledger) refused(want error, sender, method string, args any) {
	l.T.Helper()
	l.Refused(want, sender, aggregate.Name, method, args)
}

func (l *ledger) query(id string) aggregate.Query {
	l.T.Helper()
	var q aggregate.Query
	raw := l.State[string(aggregate.StateKey(id))]
	if err := json.Unmarshal(raw, &q); err != nil {
		l.T.Fatalf("query %s: %v (%q)", id, err, raw)
	}
	return q
}

func hashOf(s string) string {
	h := he.MessageHash([]byte(s))
	return hex.EncodeToString(h[:])
}

var depts = []string{"health-a", "health-b", "health-c", "health-d"}

func (l *ledger) propose(id string, threshold int, deadline uint64) {
	l.T.Helper()
	var ps []string
	for _, d := range depts {
		ps = append(ps, l.addr(d))
	}
	l.must("ministry", "propose", aggregate.ProposeArgs{ID: id, Description: "claims per diagnosis code",
		Participants: ps, Threshold: threshold, VectorLen: 4, Deadline: deadline, Aggregator: l.addr("aggregator")})
}

func TestQueryLifecycle(t *testing.T) {
	l := newLedger(t)
	l.propose("q1", 3, 100)
	l.refused(aggregate.ErrExists, "ministry", "propose", aggregate.ProposeArgs{ID: "q1", Participants: []string{l.addr("x"), l.addr("y")}, Threshold: 2, VectorLen: 1, Deadline: 50})
	l.refused(aggregate.ErrWrongPhase, "health-a", "submit_key_share_hash", aggregate.HashArgs{ID: "q1", Hash: hashOf("k")})
	l.refused(aggregate.ErrNotParticipant, "stranger", "approve", aggregate.ApproveArgs{ID: "q1", BoxKey: hashOf("box")})
	l.refused(aggregate.ErrNotFound, "health-a", "approve", aggregate.ApproveArgs{ID: "q2", BoxKey: hashOf("box")})
	for i, d := range depts {
		l.must(d, "approve", aggregate.ApproveArgs{ID: "q1", BoxKey: hashOf("box")})
		if i == 0 {
			l.refused(aggregate.ErrDuplicate, d, "approve", aggregate.ApproveArgs{ID: "q1", BoxKey: hashOf("box")})
		}
	}
	if q := l.query("q1"); q.Phase != aggregate.PhaseKeyGen {
		t.Fatalf("phase %s after approvals", q.Phase)
	}
	steps := []struct{ method, next string }{
		{"submit_key_share_hash", aggregate.PhaseContribution},
		{"submit_contribution", aggregate.PhaseDecryption},
	}
	for _, s := range steps {
		for i, d := range depts {
			l.must(d, s.method, aggregate.HashArgs{ID: "q1", Hash: hashOf(s.method + d)})
			if i == 0 {
				l.refused(aggregate.ErrDuplicate, d, s.method, aggregate.HashArgs{ID: "q1", Hash: hashOf("again")})
			}
		}
		if q := l.query("q1"); q.Phase != s.next {
			t.Fatalf("phase %s after %s", q.Phase, s.method)
		}
	}
	values := []uint64{10, 0, 7, 1 << 40}
	rh := he.ResultHash(values)
	pub := aggregate.PublishArgs{ID: "q1", ResultHash: hex.EncodeToString(rh[:]), AggregateHash: hashOf("agg"), Values: values}
	l.must("health-a", "submit_decryption_share", aggregate.HashArgs{ID: "q1", Hash: hashOf("s-a")})
	l.must("health-b", "submit_decryption_share", aggregate.HashArgs{ID: "q1", Hash: hashOf("s-b")})
	l.refused(aggregate.ErrTooFewShares, "aggregator", "publish_result", pub)
	l.must("health-d", "submit_decryption_share", aggregate.HashArgs{ID: "q1", Hash: hashOf("s-d")})
	l.refused(aggregate.ErrNotAggregator, "health-a", "publish_result", pub)
	wrong := pub
	wrong.Values = []uint64{10, 0, 7, 1}
	l.refused(aggregate.ErrResultMismatch, "aggregator", "publish_result", wrong)
	short := pub
	short.Values = values[:3]
	l.refused(aggregate.ErrBadArgs, "aggregator", "publish_result", short)
	l.must("aggregator", "publish_result", pub)
	q := l.query("q1")
	if q.Phase != aggregate.PhaseDone || q.ResultHash != pub.ResultHash || fmt.Sprint(q.Result) != fmt.Sprint(values) || q.ClosedAt != l.Height {
		t.Fatalf("record after publish: %+v", q)
	}
	if q.KeyShares[2] != hashOf("submit_key_share_hash"+"health-c") || q.DecryptionShares[2] != "" {
		t.Fatalf("hashes: %v %v", q.KeyShares, q.DecryptionShares)
	}
	l.refused(aggregate.ErrWrongPhase, "aggregator", "publish_result", pub)
	l.Height = 200
	l.refused(aggregate.ErrWrongPhase, "anyone", "abort", aggregate.IDArgs{ID: "q1"})
}

func TestDeadlineAbort(t *testing.T) {
	l := newLedger(t)
	l.propose("q", 2, 20)
	for _, d := range depts {
		l.must(d, "approve", aggregate.ApproveArgs{ID: "q", BoxKey: hashOf("box")})
	}
	for _, d := range depts[:3] {
		l.must(d, "submit_key_share_hash", aggregate.HashArgs{ID: "q", Hash: hashOf(d)})
	}
	// health-d dropped out: the query cannot move, and nobody can abort it
	// before the deadline.
	l.refused(aggregate.ErrBeforeDeadline, "anyone", "abort", aggregate.IDArgs{ID: "q"})
	l.Height = 20
	l.refused(aggregate.ErrBeforeDeadline, "anyone", "abort", aggregate.IDArgs{ID: "q"})
	l.Height = 21
	l.refused(aggregate.ErrPastDeadline, "health-d", "submit_key_share_hash", aggregate.HashArgs{ID: "q", Hash: hashOf("late")})
	l.must("anyone", "abort", aggregate.IDArgs{ID: "q"})
	if q := l.query("q"); q.Phase != aggregate.PhaseAborted || q.ClosedAt != 21 {
		t.Fatalf("after abort: %+v", q)
	}
	l.refused(aggregate.ErrWrongPhase, "anyone", "abort", aggregate.IDArgs{ID: "q"})
	l.refused(aggregate.ErrWrongPhase, "health-a", "submit_contribution", aggregate.HashArgs{ID: "q", Hash: hashOf("x")})
}

func TestProposeValidation(t *testing.T) {
	l := newLedger(t)
	a, b := l.addr("a"), l.addr("b")
	ok := aggregate.ProposeArgs{ID: "p", Participants: []string{a, b}, Threshold: 2, VectorLen: 8, Deadline: 11}
	bad := map[string]func(p *aggregate.ProposeArgs){
		"empty id":          func(p *aggregate.ProposeArgs) { p.ID = "" },
		"id with space":     func(p *aggregate.ProposeArgs) { p.ID = "a b" },
		"one participant":   func(p *aggregate.ProposeArgs) { p.Participants = []string{a} },
		"repeated":          func(p *aggregate.ProposeArgs) { p.Participants = []string{a, a} },
		"uppercase address": func(p *aggregate.ProposeArgs) { p.Participants = []string{strings.ToUpper(a), b} },
		"threshold 1":       func(p *aggregate.ProposeArgs) { p.Threshold = 1 },
		"threshold 3":       func(p *aggregate.ProposeArgs) { p.Threshold = 3 },
		"vector 0":          func(p *aggregate.ProposeArgs) { p.VectorLen = 0 },
		"vector too long":   func(p *aggregate.ProposeArgs) { p.VectorLen = aggregate.MaxVectorLen + 1 },
		"deadline now":      func(p *aggregate.ProposeArgs) { p.Deadline = 10 },
		"deadline too far":  func(p *aggregate.ProposeArgs) { p.Deadline = 11 + aggregate.MaxDeadlineSpan },
		"bad aggregator":    func(p *aggregate.ProposeArgs) { p.Aggregator = "xyz" },
		"long description":  func(p *aggregate.ProposeArgs) { p.Description = strings.Repeat("d", aggregate.MaxDescriptionLen+1) },
	}
	for name, mut := range bad {
		p := ok
		p.Participants = append([]string(nil), ok.Participants...)
		mut(&p)
		if err := l.call("ministry", "propose", p); err == nil || !strings.Contains(err.Error(), aggregate.ErrBadArgs.Error()) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, raw := range []string{`{"id":"p","extra":1}`, `{"id":"p"} {}`, `[]`} {
		if err := l.call("ministry", "propose", exectest.Raw(raw)); err == nil {
			t.Errorf("args %s accepted", raw)
		}
	}
	l.refused(aggregate.ErrBadArgs, "a", "approve", aggregate.HashArgs{ID: "p", Hash: "00"})
	l.must("ministry", "propose", ok)
	if q := l.query("p"); q.Aggregator != l.addr("ministry") || q.Phase != aggregate.PhaseProposed {
		t.Fatalf("defaults: %+v", q)
	}
	l.must("a", "approve", aggregate.ApproveArgs{ID: "p", BoxKey: hashOf("box")})
	l.must("b", "approve", aggregate.ApproveArgs{ID: "p", BoxKey: hashOf("box")})
	l.refused(aggregate.ErrBadArgs, "a", "submit_key_share_hash", aggregate.HashArgs{ID: "p", Hash: strings.ToUpper(hashOf("x"))})
}

func TestLimitsMatchProtocol(t *testing.T) {
	if aggregate.MaxVectorLen != he.Slots || aggregate.MaxParticipants != he.MaxParties || aggregate.MaxIDLen != he.MaxIDLen {
		t.Fatal("module limits differ from privacy/he")
	}
}

func TestApproveRecordsBoxKey(t *testing.T) {
	l := newLedger(t)
	l.propose("b", 2, 100)
	l.refused(aggregate.ErrBadArgs, "health-a", "approve", aggregate.ApproveArgs{ID: "b"})
	l.refused(aggregate.ErrBadArgs, "health-a", "approve", aggregate.ApproveArgs{ID: "b", BoxKey: strings.ToUpper(hashOf("k"))})
	l.refused(aggregate.ErrBadArgs, "health-a", "approve", exectest.Raw(`{"id":"b"}`))
	l.must("health-b", "approve", aggregate.ApproveArgs{ID: "b", BoxKey: hashOf("key-b")})
	q := l.query("b")
	if q.BoxKeys[1] != hashOf("key-b") || q.BoxKeys[0] != "" || !q.Approved[1] || q.Approved[0] {
		t.Fatalf("box keys %v approved %v", q.BoxKeys, q.Approved)
	}
}

// A time deadline ends a query even if the chain made few blocks: the
// abort's own block is past it.
func TestDeadlineTime(t *testing.T) {
	l := newLedger(t)
	h := l.Height
	ps := []string{l.addr("health-a"), l.addr("health-b")}
	args := aggregate.ProposeArgs{ID: "t", Participants: ps, Threshold: 2, VectorLen: 1, Deadline: h + 1000, DeadlineTime: h*1000 + 5000}
	for name, dt := range map[string]uint64{"now": h * 1000, "too far": h*1000 + aggregate.MaxDeadlineTimeSpan + 1} {
		bad := args
		bad.DeadlineTime = dt
		if err := l.call("ministry", "propose", bad); err == nil || !strings.Contains(err.Error(), aggregate.ErrBadArgs.Error()) {
			t.Errorf("deadline_time %s: %v", name, err)
		}
	}
	l.must("ministry", "propose", args)
	l.must("health-a", "approve", aggregate.ApproveArgs{ID: "t", BoxKey: hashOf("a")})
	l.Height = h + 5 // block time h*1000+5000: not past yet
	l.refused(aggregate.ErrBeforeDeadline, "anyone", "abort", aggregate.IDArgs{ID: "t"})
	l.Height = h + 6
	q := l.query("t")
	if !q.Expired(l.Height, l.Height*1000) || q.Expired(h+5, h*1000+5000) {
		t.Fatal("Expired disagrees with the module")
	}
	l.refused(aggregate.ErrPastDeadline, "health-b", "approve", aggregate.ApproveArgs{ID: "t", BoxKey: hashOf("b")})
	l.must("anyone", "abort", aggregate.IDArgs{ID: "t"})
	if q := l.query("t"); q.Phase != aggregate.PhaseAborted || !q.Final() {
		t.Fatalf("after abort: %+v", q)
	}
}
