package he

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// Aggregator adds the encrypted contributions, picks the decryption set and
// combines the decryption shares. It never holds key material: it learns the
// result and nothing about any single contribution. Not safe for concurrent
// use.
type Aggregator struct {
	q    Query
	self Identity
	*tally

	ready    []int      // members whose ready arrived, in arrival order
	readyH   [][32]byte // by member
	hasReady []bool
	set      []int       // decryption set, once requested
	shares   []ring.Poly // by member
	nShares  int
	result   []uint64
	aborted  bool
}

// NewAggregator prepares the aggregator of q; self must be q.Aggregator.
func NewAggregator(q Query, self Identity) (*Aggregator, error) {
	q.Members = slices.Clone(q.Members)
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if self.ID != q.Aggregator.ID {
		return nil, fmt.Errorf("%w: %q is not the aggregator of query %q", ErrConfig, self.ID, q.ID)
	}
	if err := checkIdentity(q.Aggregator, self, false); err != nil {
		return nil, err
	}
	n := len(q.Members)
	a := &Aggregator{q: q, self: self, readyH: make([][32]byte, n), hasReady: make([]bool, n), shares: make([]ring.Poly, n)}
	a.tally = newTally(&a.q)
	return a, nil
}

// PublicKeyHash returns the collective public key's hash once known.
func (a *Aggregator) PublicKeyHash() ([32]byte, bool) { return a.pkHash, a.pk != nil }

// AggregateHash returns the aggregate's hash once all contributions arrived.
func (a *Aggregator) AggregateHash() ([32]byte, bool) { return a.aggHash, a.agg != nil }

// DecryptionSet returns the member IDs asked for decryption shares, nil
// before the request.
func (a *Aggregator) DecryptionSet() []string {
	var ids []string
	for _, i := range a.set {
		ids = append(ids, a.q.Members[i].ID)
	}
	return ids
}

// Handle takes one inbound message and returns what to send in reply (the
// decryption request, once t members reported the aggregate). A refused
// message (error) is not stored.
func (a *Aggregator) Handle(data []byte) ([]Outbound, error) {
	if a.aborted {
		return nil, ErrAborted
	}
	m, err := receive(&a.q, a.self.ID, data)
	if err != nil {
		return nil, err
	}
	switch m.Kind {
	case KindKeyShare:
		from, err := expect(&a.q, m, true)
		if err != nil {
			return nil, err
		}
		if err := a.addKeyShare(from, m.Payload); err != nil {
			return nil, err
		}
	case KindContribution:
		from, err := expect(&a.q, m, true)
		if err != nil {
			return nil, err
		}
		if err := a.addContribution(from, m.Payload); err != nil {
			return nil, err
		}
	case KindReady:
		from, err := expect(&a.q, m, false)
		if err != nil {
			return nil, err
		}
		if err := a.addReady(from, m.Payload); err != nil {
			return nil, err
		}
	case KindDecryptShare:
		from, err := expect(&a.q, m, false)
		if err != nil {
			return nil, err
		}
		if err := a.addShare(from, m.Payload); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: the aggregator does not take %s", ErrMisaddressed, m.Kind)
	}
	return a.advance()
}

func (a *Aggregator) addReady(from int, payload []byte) error {
	if a.hasReady[from] {
		return fmt.Errorf("%w: ready from %s", ErrDuplicate, a.q.Members[from].ID)
	}
	if len(payload) != 32 {
		return fmt.Errorf("%w: ready of %d bytes", ErrMalformed, len(payload))
	}
	h := [32]byte(payload)
	if a.agg != nil && h != a.aggHash {
		return fmt.Errorf("%w: %s reports another aggregate", ErrMismatch, a.q.Members[from].ID)
	}
	a.hasReady[from], a.readyH[from] = true, h
	a.ready = append(a.ready, from)
	return nil
}

func (a *Aggregator) addShare(from int, payload []byte) error {
	if a.set == nil {
		return fmt.Errorf("%w: decryption share from %s before the request", ErrWrongPhase, a.q.Members[from].ID)
	}
	if !slices.Contains(a.set, from) {
		return fmt.Errorf("%w: %s is not in the decryption set", ErrUnknownSender, a.q.Members[from].ID)
	}
	if a.shares[from].Coeffs != nil {
		return fmt.Errorf("%w: decryption share from %s", ErrDuplicate, a.q.Members[from].ID)
	}
	if len(payload) < 32 || [32]byte(payload[:32]) != a.aggHash {
		return fmt.Errorf("%w: decryption share from %s for another aggregate", ErrMismatch, a.q.Members[from].ID)
	}
	sh, err := readPoly(payload[32:])
	if err != nil {
		return fmt.Errorf("decryption share from %s: %w", a.q.Members[from].ID, err)
	}
	a.shares[from] = sh
	a.nShares++
	return nil
}

// advance sends the decryption request once t members reported the
// aggregator's own aggregate (the first t, in arrival order), and decrypts
// once every member of the set sent its share.
func (a *Aggregator) advance() ([]Outbound, error) {
	if a.agg == nil {
		return nil, nil
	}
	if a.set == nil {
		var set []int
		for _, i := range a.ready {
			if a.readyH[i] == a.aggHash && len(set) < a.q.Threshold {
				set = append(set, i)
			}
		}
		if len(set) < a.q.Threshold {
			return nil, nil
		}
		slices.Sort(set)
		a.set = set
		m := &Message{Kind: KindDecryptRequest, Query: a.q.ID, Sender: a.self.ID, Payload: requestPayload(a.aggHash, set)}
		return []Outbound{outbound(m, a.self.Sign)}, nil
	}
	if a.result == nil && a.nShares == len(a.set) {
		shares := make([]ring.Poly, 0, len(a.set))
		for _, i := range a.set {
			shares = append(shares, a.shares[i])
		}
		res, err := decryptWithShares(a.agg, shares, a.q.VectorLen)
		if err != nil {
			return nil, err
		}
		a.result = res
	}
	return nil, nil
}

// Result returns the decrypted aggregate, or ErrNotEnoughShares while fewer
// than the threshold of decryption shares arrived (ErrAborted after Abort).
func (a *Aggregator) Result() ([]uint64, error) {
	switch {
	case a.result != nil:
		return slices.Clone(a.result), nil
	case a.aborted:
		return nil, ErrAborted
	case a.set == nil:
		good := 0
		for _, i := range a.ready {
			if a.agg != nil && a.readyH[i] == a.aggHash {
				good++
			}
		}
		return nil, fmt.Errorf("%w: %d of %d contributions, %d of %d members ready, threshold %d",
			ErrNotEnoughShares, a.nContribsOr(), len(a.q.Members), good, len(a.q.Members), a.q.Threshold)
	default:
		return nil, fmt.Errorf("%w: %d of %d decryption shares", ErrNotEnoughShares, a.nShares, a.q.Threshold)
	}
}

func (a *Aggregator) nContribsOr() int {
	if a.agg != nil {
		return len(a.q.Members)
	}
	return a.nContribs
}

// Abort ends the query for the aggregator; later messages are refused.
func (a *Aggregator) Abort() { a.aborted = true }
