package aggregation

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/privacy/he"
)

// session is this node's state for one query it takes part in. The driver's
// state machine per query (driven by the chain record, inbound messages and
// the clock; see docs/privacy-he.md):
//
//	proposed: participant waits for SubmitInput, then approves (box key)
//	keygen:   aggregator starts an he.Aggregator; participant an he.Party
//	          (Start: key share, sealed Shamir shares)
//	...       messages flow; each Outbound hash goes on chain
//	decryption, aggregator has the result and t share hashes are on chain:
//	          publish_result
//	deadline passed, not final: erase key material, submit abort
//	done / aborted on chain: erase, forget
type session struct {
	id       string
	rec      *aggregate.Query
	member   int  // index in rec.Participants, -1 if not a participant
	isAgg    bool // this node is the aggregator
	restored bool // recreated from the state file after a restart

	input    []uint64
	hadInput bool
	box      *ecdh.PrivateKey
	hq       *he.Query
	party    *he.Party
	agg      *he.Aggregator
	result   []uint64
	lost     bool // cannot take part (restart, or a protocol failure)
	aborting bool
	lastErr  string

	txs    map[string]*txTrack  // by module method
	hashes map[he.Kind][32]byte // sent messages whose hash waits for its phase
	local  []localMsg           // messages between this node's own roles
}

type localMsg struct {
	toAgg bool
	data  []byte
	hash  [32]byte
}

// erase drops the session's key material.
func (s *session) erase() {
	clear(s.input)
	s.input = nil
	s.box = nil
	if s.party != nil {
		s.party.Abort()
	}
	if s.agg != nil {
		s.agg.Abort()
	}
	s.local = nil
}

func (s *session) fail(err error) {
	s.lost = true
	s.lastErr = err.Error()
	s.erase()
}

// refresh reloads query id from the chain and steps its session if this
// node takes part.
func (d *Driver) refresh(id string) {
	rec, err := d.load(id)
	if err != nil {
		d.log.Error("load query", "id", id, "err", err)
		return
	}
	if rec == nil {
		return
	}
	s := d.sessions[id]
	if s == nil && (rec.Final() || (indexOf(rec.Participants, d.self) < 0 && rec.Aggregator != d.self)) {
		return
	}
	s = d.session(rec)
	d.step(s)
}

// step moves a session as far as the chain record and the clock allow.
func (d *Driver) step(s *session) {
	rec := s.rec
	defer d.publishLocal(s)
	if rec.Final() {
		d.closeSession(s)
		return
	}
	if d.expired(rec) {
		if !s.aborting {
			d.log.Info("query past its deadline: aborting", "id", s.id, "phase", rec.Phase)
			s.aborting = true
			s.erase()
			d.dropUnacked(s.id)
		}
		d.submitTx(s, "abort", aggregate.IDArgs{ID: s.id})
		return
	}
	if s.lost || s.aborting {
		return
	}
	if s.restored {
		// A restart lost what the session held in memory: the input and
		// box key of an approval, or the messages an aggregator received.
		if (s.member >= 0 && rec.Approved[s.member] && s.box == nil) || (s.isAgg && rec.Phase != aggregate.PhaseProposed && s.agg == nil) {
			s.fail(errors.New("node restarted during the query: key material and messages held in memory are lost; the query aborts at its deadline"))
			d.log.Warn("query lost in restart", "id", s.id)
			return
		}
	}
	if rec.Phase == aggregate.PhaseProposed {
		return
	}
	if s.hq == nil {
		q, err := d.heQuery(rec)
		if err != nil {
			d.log.Error("query cannot run", "id", s.id, "err", err)
			s.fail(err)
			return
		}
		s.hq = q
	}
	if s.isAgg && s.agg == nil {
		if rec.Phase != aggregate.PhaseKeyGen {
			s.fail(fmt.Errorf("aggregator joined in phase %s: messages of earlier rounds are missing", rec.Phase))
			return
		}
		a, err := he.NewAggregator(*s.hq, he.Identity{ID: d.aggID, Sign: d.sign})
		if err != nil {
			s.fail(err)
			return
		}
		s.agg = a
	}
	if s.member >= 0 && s.party == nil {
		if s.input == nil || rec.Phase != aggregate.PhaseKeyGen {
			if rec.Approved[s.member] {
				s.fail(fmt.Errorf("no input for phase %s", rec.Phase))
			}
			return
		}
		p, err := he.NewParty(*s.hq, he.Identity{ID: d.self, Sign: d.sign, Box: s.box}, s.input)
		clear(s.input)
		s.input = nil
		if err != nil {
			s.fail(err)
			return
		}
		s.party = p
		out, err := p.Start()
		if err != nil {
			s.fail(err)
			return
		}
		d.log.Info("query keygen started", "id", s.id, "members", len(rec.Participants), "threshold", rec.Threshold)
		d.dispatch(s, d.self, out)
		d.drainLocal(s)
	}
	d.recordHashes(s)
	d.tryPublish(s)
}

// heQuery builds the protocol roster from the chain record: members are the
// participants' node addresses with their node keys (from the federation's
// peer list) and the box keys of their approvals.
func (d *Driver) heQuery(rec *aggregate.Query) (*he.Query, error) {
	q := &he.Query{ID: rec.ID, Threshold: rec.Threshold, VectorLen: rec.VectorLen}
	for i, a := range rec.Participants {
		p, ok := d.peerByAddr[a]
		if !ok {
			return nil, fmt.Errorf("participant %s is not a node of this federation", a)
		}
		box, err := hex.DecodeString(rec.BoxKeys[i])
		if err != nil || len(box) != 32 {
			return nil, fmt.Errorf("participant %s: box key missing or malformed", a)
		}
		q.Members = append(q.Members, he.Member{ID: a, SignKey: p.PubKey, BoxKey: box})
	}
	p, ok := d.peerByAddr[rec.Aggregator]
	if !ok {
		return nil, fmt.Errorf("aggregator %s is not a node of this federation", rec.Aggregator)
	}
	q.Aggregator = he.Member{ID: AggregatorPrefix + rec.Aggregator, SignKey: ed25519.PublicKey(p.PubKey)}
	return q, q.Validate()
}

// expired reports whether the next block would be past rec's deadline.
func (d *Driver) expired(rec *aggregate.Query) bool {
	if d.r.Ledger().Height() >= rec.Deadline {
		return true
	}
	now := d.cfg.Clock().Add(-d.cfg.AbortMargin).UnixMilli()
	return rec.DeadlineTime != 0 && now > 0 && uint64(now) > rec.DeadlineTime
}

// tryPublish submits the result once the aggregator has it and the chain
// holds at least t decryption-share hashes (publish_result checks that).
func (d *Driver) tryPublish(s *session) {
	if s.agg == nil || s.rec.Phase != aggregate.PhaseDecryption {
		return
	}
	if s.result == nil {
		res, err := s.agg.Result()
		if err != nil {
			return
		}
		s.result = res
		d.log.Info("query result decrypted", "id", s.id, "values", len(res))
	}
	n := 0
	for _, h := range s.rec.DecryptionShares {
		if h != "" {
			n++
		}
	}
	if n < s.rec.Threshold {
		return
	}
	rh := he.ResultHash(s.result)
	ah, _ := s.agg.AggregateHash()
	args := aggregate.PublishArgs{ID: s.id, ResultHash: hex.EncodeToString(rh[:]), AggregateHash: hex.EncodeToString(ah[:]), Values: s.result}
	if !fitsTx(args) {
		args.Values = nil // the hash alone; values stay with the aggregator's API
	}
	d.submitTx(s, "publish_result", args)
}

// closeSession forgets a final query.
func (d *Driver) closeSession(s *session) {
	s.erase()
	d.dropUnacked(s.id)
	delete(d.sessions, s.id)
	d.dirty = true
	d.mu.Lock()
	delete(d.mu.local, s.id)
	d.mu.Unlock()
	d.log.Info("query closed", "id", s.id, "phase", s.rec.Phase)
}

// publishLocal updates the API's view of the session.
func (d *Driver) publishLocal(s *session) {
	if d.sessions[s.id] != s {
		return
	}
	l := Local{Input: s.hadInput, Error: s.lastErr}
	switch {
	case s.member >= 0 && s.isAgg:
		l.Role = "participant+aggregator"
	case s.isAgg:
		l.Role = "aggregator"
	default:
		l.Role = "participant"
	}
	switch {
	case s.aborting:
		l.State = "aborting"
	case s.lost:
		l.State = "lost"
	case s.result != nil:
		l.State = "result"
	case s.party != nil:
		l.State = s.party.Phase().String()
	case s.agg != nil:
		l.State = "aggregating"
	case s.member >= 0 && s.box != nil:
		l.State = "approved"
	case s.member >= 0:
		l.State = "waiting-input"
	default:
		l.State = "waiting-approvals"
	}
	d.mu.Lock()
	d.mu.local[s.id] = l
	d.mu.Unlock()
}
