package aggregation

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/polityledger/polity/privacy/he"
)

// dispatch records the hashes of out on chain and delivers each message:
// To "" means every member but the sender, and the aggregator.
func (d *Driver) dispatch(s *session, sender string, out []he.Outbound) {
	for _, o := range out {
		if _, ok := stepOf[o.Kind]; ok {
			s.hashes[o.Kind] = o.Hash
		}
		var to []string
		if o.To == "" {
			for _, m := range s.hq.Members {
				if m.ID != sender {
					to = append(to, m.ID)
				}
			}
			if sender != s.hq.Aggregator.ID {
				to = append(to, s.hq.Aggregator.ID)
			}
		} else {
			to = []string{o.To}
		}
		for _, pid := range to {
			switch {
			case pid == d.self && s.member >= 0:
				s.local = append(s.local, localMsg{data: o.Data, hash: o.Hash})
			case pid == d.aggID && s.isAgg:
				s.local = append(s.local, localMsg{toAgg: true, data: o.Data, hash: o.Hash})
			default:
				d.sendTo(s.id, strings.TrimPrefix(pid, AggregatorPrefix), o)
			}
		}
	}
}

// sendTo sends o to the node with address addr and keeps it for
// retransmission until acknowledged.
func (d *Driver) sendTo(query, addr string, o he.Outbound) {
	p, ok := d.peerByAddr[addr]
	if !ok {
		d.log.Warn("no node for protocol recipient", "query", query, "to", addr)
		return
	}
	f := dataFrame(o.Data)
	d.net.Send(d.nodeNum[p.ID], f)
	d.unacked[ackKey{hash: o.Hash, to: p.ID}] = &unacked{query: query, frame: f, next: d.cfg.Clock().Add(d.cfg.RetryMin), backoff: d.cfg.RetryMin}
}

// drainLocal delivers the messages between this node's party and aggregator.
func (d *Driver) drainLocal(s *session) {
	for len(s.local) > 0 && d.sessions[s.id] == s {
		m := s.local[0]
		s.local = s.local[1:]
		if m.toAgg {
			d.toAggregator(s, m.data)
		} else {
			d.toParty(s, m.data)
		}
	}
}

func (d *Driver) toParty(s *session, data []byte) {
	if s.party == nil || s.lost || s.aborting {
		return
	}
	out, err := s.party.Handle(data)
	d.logHandle(s, "party", err)
	d.dispatch(s, d.self, out)
}

func (d *Driver) toAggregator(s *session, data []byte) {
	if s.agg == nil || s.lost || s.aborting {
		return
	}
	out, err := s.agg.Handle(data)
	d.logHandle(s, "aggregator", err)
	d.dispatch(s, d.aggID, out)
	d.tryPublish(s)
}

func (d *Driver) logHandle(s *session, role string, err error) {
	if err == nil || errors.Is(err, he.ErrDuplicate) {
		return
	}
	s.lastErr = err.Error()
	d.log.Warn("protocol message refused", "query", s.id, "role", role, "err", err)
}

// handleFrame takes one frame from node from.
func (d *Driver) handleFrame(in inbound) {
	kind, body, err := decodeFrame(in.frame)
	if err != nil {
		d.log.Warn("bad frame", "from", in.from, "err", err)
		return
	}
	if kind == frameAck {
		delete(d.unacked, ackKey{hash: [32]byte(body), to: in.from})
		return
	}
	m, err := he.DecodeMessage(body)
	if err != nil {
		d.log.Warn("bad protocol message", "from", in.from, "err", err)
		return
	}
	addr := d.addrOfNode[in.from]
	if m.Sender != addr && m.Sender != AggregatorPrefix+addr {
		d.log.Warn("protocol message from another node's ID", "from", in.from, "sender", m.Sender)
		return
	}
	s := d.sessions[m.Query]
	if s == nil || s.hq == nil {
		return // not (yet) running here: no ack, the sender retries
	}
	toParty := s.member >= 0 && (m.To == d.self || (m.To == "" && m.Sender != d.self))
	toAgg := s.isAgg && (m.To == d.aggID || (m.To == "" && m.Kind != he.KindDecryptRequest && m.Sender != d.aggID))
	if (toParty && s.party == nil && !s.lost) || (toAgg && s.agg == nil && !s.lost) {
		return // a role not started yet: no ack, the sender retries
	}
	if s.lost || s.aborting {
		return // never acknowledged: the sender stops when the query ends
	}
	if toParty {
		d.toParty(s, body)
	}
	if toAgg {
		d.toAggregator(s, body)
	}
	if !toParty && !toAgg {
		d.log.Warn("protocol message not for this node", "query", m.Query, "from", in.from, "to", m.To)
	}
	d.drainLocal(s)
	d.net.Send(d.nodeNum[in.from], ackFrame(he.MessageHash(body)))
	d.publishLocal(s)
}

// retransmit resends what is due, with jittered exponential back-off.
func (d *Driver) retransmit(now time.Time) {
	for k, u := range d.unacked {
		if now.Before(u.next) {
			continue
		}
		d.net.Send(d.nodeNum[k.to], u.frame)
		u.backoff = min(2*u.backoff, d.cfg.RetryMax)
		u.next = now.Add(u.backoff/2 + rand.N(u.backoff/2+1))
	}
}

// dropUnacked stops retransmitting query's messages.
func (d *Driver) dropUnacked(query string) {
	for k, u := range d.unacked {
		if u.query == query {
			delete(d.unacked, k)
		}
	}
}
