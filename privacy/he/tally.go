package he

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/multiparty"
	"github.com/tuneinsight/lattigo/v6/ring"
)

// tally is the public state both parties and the aggregator build from
// broadcasts: the N key-generation shares give the collective public key,
// the N contributions give the aggregate. Every step is deterministic, so
// honest receivers agree on both hashes.
type tally struct {
	q   *Query
	crp multiparty.PublicKeyGenCRP

	keyShares []ring.Poly // by member; Coeffs nil while missing
	nKeys     int
	pk        *rlwe.PublicKey
	pkHash    [32]byte

	contribs  []*rlwe.Ciphertext // by member
	contribPK [][32]byte         // the public-key hash each contribution names
	nContribs int
	agg       *rlwe.Ciphertext
	aggHash   [32]byte
}

func newTally(q *Query) *tally {
	n := len(q.Members)
	return &tally{q: q, crp: sampleCRP(q.ID), keyShares: make([]ring.Poly, n),
		contribs: make([]*rlwe.Ciphertext, n), contribPK: make([][32]byte, n)}
}

func (t *tally) addKeyShare(from int, payload []byte) error {
	if t.pk != nil || t.keyShares[from].Coeffs != nil {
		return fmt.Errorf("%w: key share from %s", ErrDuplicate, t.q.Members[from].ID)
	}
	p, err := readPoly(payload)
	if err != nil {
		return fmt.Errorf("key share from %s: %w", t.q.Members[from].ID, err)
	}
	t.keyShares[from] = p
	t.nKeys++
	return t.update()
}

// contribution payload: public-key hash (32) | c0 | c1.
func contributionPayload(pkHash [32]byte, ct *rlwe.Ciphertext) []byte {
	return appendCiphertext(append(make([]byte, 0, 32+2*polySize()), pkHash[:]...), ct)
}

func (t *tally) addContribution(from int, payload []byte) error {
	if t.agg != nil || t.contribs[from] != nil {
		return fmt.Errorf("%w: contribution from %s", ErrDuplicate, t.q.Members[from].ID)
	}
	if len(payload) < 32 {
		return fmt.Errorf("%w: contribution of %d bytes", ErrMalformed, len(payload))
	}
	pkh := [32]byte(payload[:32])
	if t.pk != nil && pkh != t.pkHash {
		return fmt.Errorf("%w: contribution from %s is under another public key", ErrMismatch, t.q.Members[from].ID)
	}
	ct, err := readCiphertext(payload[32:])
	if err != nil {
		return fmt.Errorf("contribution from %s: %w", t.q.Members[from].ID, err)
	}
	t.contribs[from], t.contribPK[from] = ct, pkh
	t.nContribs++
	return t.update()
}

// update derives the public key and the aggregate once their inputs are all
// in. Contributions that arrived before the key and name another key are
// dropped with ErrMismatch (the sender may send a correct one).
func (t *tally) update() error {
	n := len(t.q.Members)
	if t.pk == nil && t.nKeys == n {
		t.pk = collectivePublicKey(t.keyShares, t.crp)
		t.pkHash = publicKeyHash(t.pk)
		t.keyShares = nil
		var err error
		for i, ct := range t.contribs {
			if ct != nil && t.contribPK[i] != t.pkHash {
				t.contribs[i] = nil
				t.nContribs--
				err = fmt.Errorf("%w: contribution from %s is under another public key", ErrMismatch, t.q.Members[i].ID)
			}
		}
		if err != nil {
			return err
		}
	}
	if t.agg == nil && t.pk != nil && t.nContribs == n {
		t.agg = sumCiphertexts(t.contribs)
		t.aggHash = aggregateHash(t.agg)
		t.contribs = nil
	}
	return nil
}
