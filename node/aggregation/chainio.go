package aggregation

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/privacy/he"
)

// load reads query id's record at the head; nil if there is none.
func (d *Driver) load(id string) (*aggregate.Query, error) {
	raw, err := d.r.Ledger().Get(aggregate.StateKey(id))
	if err != nil || raw == nil {
		return nil, err
	}
	var q aggregate.Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, fmt.Errorf("query %q record: %w", id, err)
	}
	n := len(q.Participants)
	if len(q.Approved) != n || len(q.BoxKeys) != n || len(q.DecryptionShares) != n {
		return nil, fmt.Errorf("query %q record: per-participant lists of the wrong length", id)
	}
	return &q, nil
}

// scan reads the blocks committed since the last scan and refreshes every
// query a successful aggregate transaction touched.
func (d *Driver) scan() {
	head := d.r.Ledger().Height()
	touched := map[string]bool{}
	if base := d.r.Base(); d.scanned+1 < base {
		// The ledger was restored from a state snapshot past the blocks not
		// scanned yet: refresh every known query from state instead (a query
		// first seen in the skipped blocks is missed).
		d.log.Warn("blocks not scanned are pruned: refreshing known queries", "from", d.scanned+1, "base", base)
		d.scanned = base - 1
		for id := range d.sessions {
			touched[id] = true
		}
	}
	for h := d.scanned + 1; h <= head; h++ {
		b, err := d.r.Block(h)
		if err != nil {
			d.log.Error("read block", "height", h, "err", err)
			return
		}
		rcs, err := d.r.Ledger().Receipts(h)
		if err != nil || len(rcs) != len(b.Txs) {
			d.log.Error("read receipts", "height", h, "err", err)
			return
		}
		for i, tx := range b.Txs {
			if tx.Module != aggregate.Name || rcs[i].Status != chain.StatusOK {
				continue
			}
			var a struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(tx.Args, &a) == nil && a.ID != "" {
				touched[a.ID] = true
			}
		}
		d.scanned = h
		d.dirty = true
	}
	for id := range touched {
		d.refresh(id)
	}
}

// tick runs the timers: retransmissions, transaction checks, deadlines.
func (d *Driver) tick() {
	now := d.cfg.Clock()
	d.retransmit(now)
	for _, s := range d.sessions {
		d.checkTxs(s, now)
		if d.sessions[s.id] == s {
			d.step(s)
		}
	}
}

// txTrack follows one transaction the driver submitted for a session.
type txTrack struct {
	method  string
	args    any
	id      crypto.Hash // zero until admitted
	retryAt time.Time
	done    bool // committed (ok or failed for good)
	err     error
}

// stepOf gives, for each message kind whose hash goes on chain, the module
// method and the phase in which the module takes it.
var stepOf = map[he.Kind]struct{ method, phase string }{
	he.KindKeyShare:     {"submit_key_share_hash", aggregate.PhaseKeyGen},
	he.KindContribution: {"submit_contribution", aggregate.PhaseContribution},
	he.KindDecryptShare: {"submit_decryption_share", aggregate.PhaseDecryption},
}

// recordHashes submits the hashes of the messages this node sent once the
// chain is in the phase that records them. The protocol runs ahead of the
// chain (a party contributes as soon as it holds every key share, maybe
// before every key-share hash is committed), so a hash waits for its phase.
func (d *Driver) recordHashes(s *session) {
	for k, h := range s.hashes {
		st := stepOf[k]
		if s.rec.Phase != st.phase {
			continue
		}
		d.submitTx(s, st.method, aggregate.HashArgs{ID: s.id, Hash: hex.EncodeToString(h[:])})
		delete(s.hashes, k)
	}
}

// submitTx signs args for method with the node key and submits it once per
// session and method (abort: again after a failure, once the deadline is
// surely past). checkTxs resubmits a transaction the mempool lost.
func (d *Driver) submitTx(s *session, method string, args any) *txTrack {
	t := s.txs[method]
	if t != nil && (t.done || !t.id.IsZero()) {
		return t
	}
	if t == nil {
		t = &txTrack{method: method, args: args}
		s.txs[method] = t
	}
	if now := d.cfg.Clock(); now.Before(t.retryAt) {
		return t
	}
	t.err = d.send(t)
	if t.err != nil {
		t.retryAt = d.cfg.Clock().Add(time.Second)
		d.log.Warn("governance transaction not accepted; retrying", "query", s.id, "method", method, "err", t.err)
	}
	return t
}

func (d *Driver) send(t *txTrack) error {
	b, err := json.Marshal(t.args)
	if err != nil {
		return err
	}
	_, next, err := d.r.NextNonce(d.addr)
	if err != nil {
		return err
	}
	tx := &chain.Tx{ChainID: d.r.Genesis().ChainID, Nonce: next, Module: aggregate.Name, Method: t.method, Args: b}
	if err := tx.Sign(d.suite, d.cfg.Key); err != nil {
		return err
	}
	id, err := d.r.Submit(tx)
	if err != nil {
		return err
	}
	t.id = id
	return nil
}

// checkTxs follows the session's transactions: a committed one is done (a
// failed abort is retried: the deadline may have been a clock skew away); a
// lost one is submitted again.
func (d *Driver) checkTxs(s *session, now time.Time) {
	for _, t := range s.txs {
		if t.done {
			continue
		}
		if t.id.IsZero() {
			if !now.Before(t.retryAt) {
				d.submitTx(s, t.method, t.args)
			}
			continue
		}
		st, h, i, err := d.r.TxState(t.id)
		if err != nil {
			continue
		}
		switch st {
		case replica.TxUnknown:
			t.id = crypto.Hash{}
		case replica.TxCommitted:
			rcs, err := d.r.Ledger().Receipts(h)
			if err != nil || i >= len(rcs) {
				continue
			}
			if rcs[i].Status == chain.StatusOK {
				t.done = true
				continue
			}
			d.log.Warn("governance transaction failed", "query", s.id, "method", t.method, "err", rcs[i].Error)
			if t.method == "abort" {
				t.id, t.retryAt = crypto.Hash{}, now.Add(time.Second)
				continue
			}
			t.done = true
			s.lastErr = t.method + ": " + rcs[i].Error
		}
	}
}

// fitsTx reports whether args fit one transaction's arguments.
func fitsTx(args any) bool {
	b, err := json.Marshal(args)
	return err == nil && len(b) <= chain.MaxArgsLen
}

// stateFile is what the driver remembers across restarts.
type stateFile struct {
	Scanned uint64   `json:"scanned"`
	Open    []string `json:"open"`
}

// loadState restores the scanned height and open queries (marked restored:
// their in-memory material is gone).
func (d *Driver) loadState() error {
	if d.cfg.StateFile == "" {
		return nil
	}
	b, err := os.ReadFile(d.cfg.StateFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("aggregation state %s: %w", d.cfg.StateFile, err)
	}
	if st.Scanned > d.r.Ledger().Height() {
		st.Scanned = d.r.Ledger().Height()
	}
	d.scanned = st.Scanned
	for _, id := range st.Open {
		rec, err := d.load(id)
		if err != nil || rec == nil {
			continue
		}
		s := d.session(rec)
		s.restored = true
		d.step(s)
	}
	return nil
}

// persist writes the state file if anything changed.
func (d *Driver) persist() {
	if !d.dirty || d.cfg.StateFile == "" {
		return
	}
	st := stateFile{Scanned: d.scanned, Open: []string{}}
	for id := range d.sessions {
		st.Open = append(st.Open, id)
	}
	b, err := json.Marshal(st)
	if err == nil {
		err = node.WriteFileAtomic(d.cfg.StateFile, b)
	}
	if err != nil {
		d.log.Error("write aggregation state", "err", err)
		return
	}
	d.dirty = false
}
