package he

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
)

// Phase is a party's position in the protocol.
type Phase int

// Party phases.
const (
	PhaseIdle        Phase = iota // created, Start not called
	PhaseKeyGen                   // round 1 sent, collecting key and threshold shares
	PhaseContributed              // contribution sent, collecting contributions
	PhaseReady                    // ready sent, waiting for the decryption request
	PhaseDone                     // decryption share sent, or not in the decryption set
	PhaseAborted
)

func (p Phase) String() string {
	return [...]string{"idle", "keygen", "contributed", "ready", "done", "aborted"}[p]
}

// Party is one department's side of a query. It is a state machine: Start
// and Handle return the messages to deliver; the caller does the I/O and
// records the Outbound hashes on the governance chain. Not safe for
// concurrent use.
type Party struct {
	q     Query
	self  Identity
	idx   int
	input []uint64
	phase Phase
	*tally

	sk      *rlwe.SecretKey
	tShares []ring.Poly // Shamir shares received, by sender
	nTS     int
	tshare  ring.Poly // own aggregated Shamir share S(alpha_i)
	request []int     // decryption set, once a matching request arrived
	pending *Message  // a request that arrived before the aggregate
}

// NewParty prepares self's side of q with its local vector (len q.VectorLen,
// each value at most MaxValue(len(q.Members))).
func NewParty(q Query, self Identity, input []uint64) (*Party, error) {
	q.Members = slices.Clone(q.Members)
	if err := q.Validate(); err != nil {
		return nil, err
	}
	idx := q.index(self.ID)
	if idx < 0 {
		return nil, fmt.Errorf("%w: %q is not a member of query %q", ErrConfig, self.ID, q.ID)
	}
	if err := checkIdentity(q.Members[idx], self, true); err != nil {
		return nil, err
	}
	if len(input) != q.VectorLen {
		return nil, fmt.Errorf("%w: input of %d values, query wants %d", ErrConfig, len(input), q.VectorLen)
	}
	limit := MaxValue(len(q.Members))
	for i, v := range input {
		if v > limit {
			return nil, fmt.Errorf("%w: input[%d] = %d exceeds %d (the sum of %d parties must stay below T)", ErrConfig, i, v, limit, len(q.Members))
		}
	}
	p := &Party{q: q, self: self, idx: idx, input: slices.Clone(input), tShares: make([]ring.Poly, len(q.Members))}
	p.tally = newTally(&p.q)
	return p, nil
}

// Phase returns the party's phase.
func (p *Party) Phase() Phase { return p.phase }

// PublicKeyHash returns the collective public key's hash once known.
func (p *Party) PublicKeyHash() ([32]byte, bool) { return p.pkHash, p.pk != nil }

// AggregateHash returns the hash of the aggregate once all contributions
// arrived.
func (p *Party) AggregateHash() ([32]byte, bool) { return p.aggHash, p.agg != nil }

// Start runs round 1: a fresh secret key, the key-generation share for all
// and a sealed Shamir share for each other member.
func (p *Party) Start() ([]Outbound, error) {
	if p.phase != PhaseIdle {
		return nil, fmt.Errorf("%w: Start in phase %s", ErrWrongPhase, p.phase)
	}
	s := getSuite()
	p.sk = rlwe.NewKeyGenerator(s.params).GenSecretKeyNew()
	shares, err := shamirShares(p.sk, p.q.Threshold, len(p.q.Members))
	if err != nil {
		return nil, err
	}
	ks := keyGenShare(p.sk, p.crp)
	out := []Outbound{p.send(KindKeyShare, "", appendPoly(nil, ks))}
	for j, m := range p.q.Members {
		if j == p.idx {
			continue
		}
		sealed, err := sealTo(m.BoxKey, p.q.ID, p.self.ID, m.ID, appendPoly(nil, shares[j]))
		zero(shares[j])
		if err != nil {
			return nil, err
		}
		out = append(out, p.send(KindThresholdShare, m.ID, sealed))
	}
	p.tShares[p.idx] = shares[p.idx]
	p.nTS++
	p.keyShares[p.idx] = ks
	p.nKeys++
	p.phase = PhaseKeyGen
	more, err := p.advance()
	return append(out, more...), err
}

func (p *Party) send(k Kind, to string, payload []byte) Outbound {
	return outbound(&Message{Kind: k, Query: p.q.ID, Sender: p.self.ID, To: to, Payload: payload}, p.self.Sign)
}

// Handle takes one inbound message and returns what to send in reply. A
// refused message (error) is not stored, so the caller can log it and go on;
// errors wrap this package's sentinels.
func (p *Party) Handle(data []byte) ([]Outbound, error) {
	if p.phase == PhaseAborted {
		return nil, ErrAborted
	}
	m, err := receive(&p.q, p.self.ID, data)
	if err != nil {
		return nil, err
	}
	switch m.Kind {
	case KindKeyShare:
		from, err := expect(&p.q, m, true)
		if err != nil {
			return nil, err
		}
		if err := p.addKeyShare(from, m.Payload); err != nil {
			return nil, err
		}
	case KindThresholdShare:
		from, err := expect(&p.q, m, false)
		if err != nil {
			return nil, err
		}
		if err := p.addThresholdShare(from, m.Payload); err != nil {
			return nil, err
		}
	case KindContribution:
		from, err := expect(&p.q, m, true)
		if err != nil {
			return nil, err
		}
		if err := p.addContribution(from, m.Payload); err != nil {
			return nil, err
		}
	case KindDecryptRequest:
		if m.Sender != p.q.Aggregator.ID || m.To != "" {
			return nil, fmt.Errorf("%w: decrypt request from %q to %q", ErrUnknownSender, m.Sender, m.To)
		}
		if p.request != nil || p.pending != nil || p.phase == PhaseDone {
			return nil, fmt.Errorf("%w: decrypt request (a party answers one request per query)", ErrDuplicate)
		}
		if _, _, err := parseRequest(&p.q, m.Payload); err != nil {
			return nil, err
		}
		p.pending = m
	default:
		return nil, fmt.Errorf("%w: a party does not take %s", ErrMisaddressed, m.Kind)
	}
	if p.phase == PhaseIdle {
		return nil, nil // buffered until Start
	}
	return p.advance()
}

func (p *Party) addThresholdShare(from int, sealed []byte) error {
	if p.tShares == nil || p.tShares[from].Coeffs != nil {
		return fmt.Errorf("%w: threshold share from %s", ErrDuplicate, p.q.Members[from].ID)
	}
	if len(sealed) != polySize()+sealOverhead {
		return fmt.Errorf("%w: sealed threshold share of %d bytes", ErrMalformed, len(sealed))
	}
	pt, err := openFrom(p.self.Box, p.q.ID, p.q.Members[from].ID, p.self.ID, sealed)
	if err != nil {
		return err
	}
	sh, err := readPoly(pt)
	clear(pt)
	if err != nil {
		return fmt.Errorf("threshold share from %s: %w", p.q.Members[from].ID, err)
	}
	p.tShares[from] = sh
	p.nTS++
	return nil
}

// advance moves through the phases as far as the messages in hand allow.
func (p *Party) advance() ([]Outbound, error) {
	var out []Outbound
	n := len(p.q.Members)
	if p.phase == PhaseKeyGen && p.pk != nil && p.nTS == n {
		p.tshare = sumPolys(p.tShares)
		for _, sh := range p.tShares {
			zero(sh)
		}
		p.tShares = nil
		ct, err := encrypt(p.pk, p.input)
		if err != nil {
			return out, err
		}
		payload := contributionPayload(p.pkHash, ct)
		out = append(out, p.send(KindContribution, "", payload))
		if err := p.addContribution(p.idx, payload); err != nil {
			return out, err
		}
		p.phase = PhaseContributed
	}
	if p.phase == PhaseContributed && p.agg != nil {
		out = append(out, p.send(KindReady, p.q.Aggregator.ID, p.aggHash[:]))
		p.phase = PhaseReady
	}
	if p.phase == PhaseReady && p.pending != nil {
		m := p.pending
		p.pending = nil
		h, set, err := parseRequest(&p.q, m.Payload)
		if err != nil {
			return out, err
		}
		if h != p.aggHash {
			return out, fmt.Errorf("%w: decrypt request names another aggregate", ErrMismatch)
		}
		p.request = set
		if slices.Contains(set, p.idx) {
			sh, err := decryptionShare(p.tshare, set, p.idx, p.q.Threshold, n, p.agg)
			if err != nil {
				return out, err
			}
			out = append(out, p.send(KindDecryptShare, p.q.Aggregator.ID, appendPoly(append([]byte(nil), h[:]...), sh)))
		}
		p.erase()
		p.phase = PhaseDone
	}
	return out, nil
}

// erase overwrites the secret key material: after its one decryption share
// (or an abort) the party must never produce another.
func (p *Party) erase() {
	if p.sk != nil {
		zero(p.sk.Value.Q)
		p.sk = nil
	}
	if p.tshare.Coeffs != nil {
		zero(p.tshare)
		p.tshare = ring.Poly{}
	}
	for _, sh := range p.tShares {
		if sh.Coeffs != nil {
			zero(sh)
		}
	}
	p.tShares = nil
	clear(p.input)
}

// Abort ends the party's part in the query (the chain aborted it at its
// deadline): key material is erased and every later message is refused.
func (p *Party) Abort() {
	p.erase()
	p.phase = PhaseAborted
}

// decrypt request payload: aggregate hash (32) | count u8 | member indexes,
// strictly increasing, exactly the threshold.
func requestPayload(h [32]byte, set []int) []byte {
	b := append(append([]byte(nil), h[:]...), byte(len(set)))
	for _, i := range set {
		b = append(b, byte(i))
	}
	return b
}

func parseRequest(q *Query, b []byte) ([32]byte, []int, error) {
	if len(b) != 32+1+q.Threshold || int(b[32]) != q.Threshold {
		return [32]byte{}, nil, fmt.Errorf("%w: decrypt request of %d bytes for threshold %d", ErrMalformed, len(b), q.Threshold)
	}
	set := make([]int, q.Threshold)
	for i := range set {
		set[i] = int(b[33+i])
		if set[i] >= len(q.Members) || (i > 0 && set[i] <= set[i-1]) {
			return [32]byte{}, nil, fmt.Errorf("%w: decrypt set must be increasing member indexes", ErrMalformed)
		}
	}
	return [32]byte(b[:32]), set, nil
}
