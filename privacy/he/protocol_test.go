package he_test

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/polityledger/polity/privacy/he"
)

func identity(t testing.TB, name string) (he.Identity, he.Member) {
	t.Helper()
	seed := sha256.Sum256([]byte("he-test/" + name))
	sign := ed25519.NewKeyFromSeed(seed[:])
	box, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return he.Identity{ID: name, Sign: sign, Box: box},
		he.Member{ID: name, SignKey: sign.Public().(ed25519.PublicKey), BoxKey: box.PublicKey().Bytes()}
}

// world is a query's parties and aggregator with an in-process network
// that delivers queued messages in order until none is left.
type world struct {
	t       testing.TB
	q       he.Query
	parties map[string]*he.Party
	agg     *he.Aggregator
	want    []uint64
	queue   []delivery
	// drop, when set, loses messages it returns true for.
	drop func(to string, o he.Outbound) bool
	// sent counts outbound messages by kind.
	sent map[he.Kind]int
	errs []error
	log  []delivery // every delivery made, for replays
}

type delivery struct {
	to string
	o  he.Outbound
}

func newWorld(t testing.TB, queryID string, n, threshold, vlen int) *world {
	t.Helper()
	aid, amem := identity(t, "aggregator")
	w := &world{t: t, parties: map[string]*he.Party{}, want: make([]uint64, vlen), sent: map[he.Kind]int{}}
	w.q = he.Query{ID: queryID, Threshold: threshold, VectorLen: vlen, Aggregator: amem}
	ids := make([]he.Identity, n)
	for i := range n {
		var m he.Member
		ids[i], m = identity(t, fmt.Sprintf("dept-%d", i))
		w.q.Members = append(w.q.Members, m)
	}
	for i, id := range ids {
		// Counts per diagnosis code: department i saw (i+1)*(code%7) claims,
		// and the first code carries the largest value allowed.
		in := make([]uint64, vlen)
		for j := range in {
			in[j] = uint64((i + 1) * (j % 7))
		}
		in[0] = he.MaxValue(n)
		for j := range in {
			w.want[j] += in[j]
		}
		p, err := he.NewParty(w.q, id, in)
		if err != nil {
			t.Fatal(err)
		}
		w.parties[id.ID] = p
	}
	var err error
	if w.agg, err = he.NewAggregator(w.q, aid); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) post(from string, out []he.Outbound) {
	for _, o := range out {
		w.sent[o.Kind]++
		if o.To != "" {
			w.queue = append(w.queue, delivery{o.To, o})
			continue
		}
		for _, m := range w.q.Members {
			if m.ID != from {
				w.queue = append(w.queue, delivery{m.ID, o})
			}
		}
		if from != w.q.Aggregator.ID {
			w.queue = append(w.queue, delivery{w.q.Aggregator.ID, o})
		}
	}
}

func (w *world) start() {
	for _, m := range w.q.Members {
		out, err := w.parties[m.ID].Start()
		if err != nil {
			w.t.Fatal(err)
		}
		w.post(m.ID, out)
	}
}

// run delivers until the queue is empty; errors are collected in w.errs.
func (w *world) run() {
	for len(w.queue) > 0 {
		d := w.queue[0]
		w.queue = w.queue[1:]
		w.log = append(w.log, d) // dropped ones too: tests replay them
		if w.drop != nil && w.drop(d.to, d.o) {
			continue
		}
		out, err := w.deliver(d.to, d.o.Data)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("to %s: %w", d.to, err))
		}
		w.post(d.to, out)
	}
}

func (w *world) deliver(to string, data []byte) ([]he.Outbound, error) {
	if to == w.q.Aggregator.ID {
		return w.agg.Handle(data)
	}
	return w.parties[to].Handle(data)
}

func TestFourDepartmentsCount(t *testing.T) {
	w := newWorld(t, "claims-per-diagnosis/2026-q1", 4, 3, 4096)
	w.start()
	w.run()
	if len(w.errs) > 0 {
		t.Fatal(w.errs)
	}
	got, err := w.agg.Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, w.want) {
		t.Fatalf("result differs from the plaintext sum: got %v..., want %v...", got[:8], w.want[:8])
	}
	if he.ResultHash(got) != he.ResultHash(w.want) {
		t.Fatal("result hash differs")
	}
	if set := w.agg.DecryptionSet(); len(set) != 3 {
		t.Fatalf("decryption set %v", set)
	}
	if w.sent[he.KindDecryptShare] != 3 || w.sent[he.KindDecryptRequest] != 1 || w.sent[he.KindThresholdShare] != 12 {
		t.Fatalf("messages sent: %v", w.sent)
	}
	ah, _ := w.agg.AggregateHash()
	for id, p := range w.parties {
		if h, ok := p.AggregateHash(); !ok || h != ah {
			t.Errorf("%s computed another aggregate", id)
		}
		if p.Phase() != he.PhaseDone {
			t.Errorf("%s in phase %s", id, p.Phase())
		}
	}
}

// TestAnyThreeOfFour: with each department in turn offline after it
// contributed, the other three decrypt.
func TestAnyThreeOfFour(t *testing.T) {
	for off := range 4 {
		offline := fmt.Sprintf("dept-%d", off)
		w := newWorld(t, "q-any3", 4, 3, 64)
		w.drop = func(to string, o he.Outbound) bool {
			return to == offline && o.Kind == he.KindDecryptRequest || o.Kind == he.KindReady && isFrom(t, o, offline)
		}
		w.start()
		w.run()
		if len(w.errs) > 0 {
			t.Fatal(w.errs)
		}
		if set := w.agg.DecryptionSet(); slices.Contains(set, offline) || len(set) != 3 {
			t.Fatalf("set %v includes %s", set, offline)
		}
		got, err := w.agg.Result()
		if err != nil || !slices.Equal(got, w.want) {
			t.Fatalf("without %s: %v, %v", offline, err, got)
		}
	}
}

func isFrom(t testing.TB, o he.Outbound, id string) bool {
	m, err := he.DecodeMessage(o.Data)
	if err != nil {
		t.Fatal(err)
	}
	return m.Sender == id
}

// TestTwoOfFourCannotDecrypt: only two departments reach the decryption
// step, below the threshold of three: no request, no result.
func TestTwoOfFourCannotDecrypt(t *testing.T) {
	w := newWorld(t, "q-two", 4, 3, 16)
	w.drop = func(to string, o he.Outbound) bool {
		return o.Kind == he.KindReady && (isFrom(t, o, "dept-2") || isFrom(t, o, "dept-3"))
	}
	w.start()
	w.run()
	if len(w.errs) > 0 {
		t.Fatal(w.errs)
	}
	if _, err := w.agg.Result(); !errors.Is(err, he.ErrNotEnoughShares) {
		t.Fatalf("result with two of four: %v", err)
	}
	if w.sent[he.KindDecryptRequest] != 0 || w.sent[he.KindDecryptShare] != 0 {
		t.Fatalf("messages sent: %v", w.sent)
	}
}

// TestDropoutAfterRequest: a member of the decryption set never answers;
// the aggregator has two of three shares and cannot decrypt (the chain's
// deadline then aborts the query: shares are never re-requested).
func TestDropoutAfterRequest(t *testing.T) {
	w := newWorld(t, "q-drop", 4, 3, 16)
	w.drop = func(to string, o he.Outbound) bool {
		return o.Kind == he.KindDecryptShare && isFrom(t, o, "dept-0")
	}
	w.start()
	w.run()
	if len(w.errs) > 0 {
		t.Fatal(w.errs)
	}
	_, err := w.agg.Result()
	if !errors.Is(err, he.ErrNotEnoughShares) {
		t.Fatalf("result: %v", err)
	}
	t.Log(err)
	w.agg.Abort()
	if _, err := w.agg.Result(); !errors.Is(err, he.ErrAborted) {
		t.Fatalf("after abort: %v", err)
	}
}
