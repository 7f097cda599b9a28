package he_test

import (
	"errors"
	"testing"

	"github.com/polityledger/polity/privacy/he"
)

// find returns the first logged delivery of kind from sender to to ("" for any).
func (w *world) find(kind he.Kind, from, to string) delivery {
	w.t.Helper()
	for _, d := range w.log {
		if d.o.Kind == kind && isFrom(w.t, d.o, from) && (to == "" || d.to == to) {
			return d
		}
	}
	w.t.Fatalf("no %s from %s to %q", kind, from, to)
	return delivery{}
}

func wantErr(t *testing.T, name string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", name, err, want)
	}
}

// TestRefusedMessages covers the protocol's failure paths after a complete
// run: every replayed, tampered, forged or misdirected message is refused
// with its sentinel, and the result is unaffected.
func TestRefusedMessages(t *testing.T) {
	w := newWorld(t, "q-fail", 4, 3, 8)
	w.drop = func(to string, o he.Outbound) bool { return o.Kind == he.KindReady && isFrom(t, o, "dept-3") }
	w.start()
	w.run()
	if len(w.errs) > 0 {
		t.Fatal(w.errs)
	}
	p1, agg := w.parties["dept-1"], w.agg
	d0, _ := identity(t, "dept-0")

	ks := w.find(he.KindKeyShare, "dept-0", "dept-1")
	tampered := append([]byte(nil), ks.o.Data...)
	tampered[len(tampered)/2] ^= 1
	_, err := p1.Handle(tampered)
	wantErr(t, "tampered key share", err, he.ErrBadSignature)
	_, err = p1.Handle(ks.o.Data[:len(ks.o.Data)-1])
	wantErr(t, "truncated key share", err, he.ErrMalformed)
	_, err = p1.Handle(ks.o.Data)
	wantErr(t, "replayed key share", err, he.ErrDuplicate)

	ts := w.find(he.KindThresholdShare, "dept-0", "dept-1")
	_, err = w.parties["dept-2"].Handle(ts.o.Data)
	wantErr(t, "threshold share for another member", err, he.ErrMisaddressed)
	_, err = p1.Handle(ts.o.Data)
	wantErr(t, "replayed threshold share", err, he.ErrDuplicate)
	_, err = agg.Handle(ts.o.Data)
	wantErr(t, "threshold share to aggregator", err, he.ErrMisaddressed)

	c := w.find(he.KindContribution, "dept-2", w.q.Aggregator.ID)
	_, err = agg.Handle(c.o.Data)
	wantErr(t, "replayed contribution", err, he.ErrDuplicate)

	sh := w.find(he.KindDecryptShare, "dept-1", "")
	_, err = agg.Handle(sh.o.Data)
	wantErr(t, "duplicate decryption share", err, he.ErrDuplicate)

	req := w.find(he.KindDecryptRequest, w.q.Aggregator.ID, "dept-1")
	_, err = p1.Handle(req.o.Data)
	wantErr(t, "second decrypt request", err, he.ErrDuplicate)

	// dept-3 was not chosen; its forged share is refused.
	ah, _ := agg.AggregateHash()
	d3, _ := identity(t, "dept-3")
	forged := &he.Message{Kind: he.KindDecryptShare, Query: w.q.ID, Sender: "dept-3", To: w.q.Aggregator.ID, Payload: ah[:]}
	_, err = agg.Handle(forged.Sign(d3.Sign))
	wantErr(t, "share from outside the set", err, he.ErrUnknownSender)

	// A member cannot pose as the aggregator, nor a stranger as a member.
	fake := &he.Message{Kind: he.KindDecryptRequest, Query: w.q.ID, Sender: "dept-0", Payload: []byte{1}}
	_, err = w.parties["dept-3"].Handle(fake.Sign(d0.Sign))
	wantErr(t, "request from a member", err, he.ErrUnknownSender)
	mallory, _ := identity(t, "mallory")
	stranger := &he.Message{Kind: he.KindKeyShare, Query: w.q.ID, Sender: "mallory", Payload: []byte{1}}
	_, err = agg.Handle(stranger.Sign(mallory.Sign))
	wantErr(t, "stranger", err, he.ErrUnknownSender)
	posing := &he.Message{Kind: he.KindKeyShare, Query: w.q.ID, Sender: "dept-0", Payload: []byte{1}}
	_, err = agg.Handle(posing.Sign(mallory.Sign))
	wantErr(t, "stranger posing as dept-0", err, he.ErrBadSignature)

	// The same keys in another query: every message is bound to its query.
	other := newWorld(t, "q-other", 4, 3, 8)
	_, err = other.parties["dept-1"].Handle(ks.o.Data)
	wantErr(t, "message of another query", err, he.ErrWrongQuery)

	got, err := agg.Result()
	if err != nil || got[0] != w.want[0] {
		t.Fatalf("result after refused messages: %v, %v", got, err)
	}

	p3 := w.parties["dept-3"]
	p3.Abort()
	_, err = p3.Handle(ks.o.Data)
	wantErr(t, "after abort", err, he.ErrAborted)
	if p3.Phase() != he.PhaseAborted {
		t.Fatalf("phase %s", p3.Phase())
	}
}

// TestRequestChecksAndAbort: the decryption request is lost; forged
// requests are refused; then the query is aborted (deadline) and the
// parties refuse the real request and send no share.
func TestRequestChecksAndAbort(t *testing.T) {
	w := newWorld(t, "q-abort", 4, 3, 8)
	w.drop = func(to string, o he.Outbound) bool { return o.Kind == he.KindDecryptRequest }
	w.start()
	w.run()
	if len(w.errs) > 0 {
		t.Fatal(w.errs)
	}
	req := w.find(he.KindDecryptRequest, w.q.Aggregator.ID, "")
	// A request naming another aggregate, or a malformed set, is refused
	// and yields no share.
	var bogus [32]byte
	bad := &he.Message{Kind: he.KindDecryptRequest, Query: w.q.ID, Sender: w.q.Aggregator.ID,
		Payload: append(append(bogus[:], 3), 0, 1, 3)}
	p3 := w.parties["dept-3"]
	ah, _ := w.agg.AggregateHash()
	aid, _ := identity(t, "aggregator")
	out, err := p3.Handle(bad.Sign(aid.Sign))
	wantErr(t, "request for another aggregate", err, he.ErrMismatch)
	if len(out) != 0 {
		t.Fatalf("refused request produced %d messages", len(out))
	}
	unsorted := &he.Message{Kind: he.KindDecryptRequest, Query: w.q.ID, Sender: w.q.Aggregator.ID,
		Payload: append(append(ah[:0:0], ah[:]...), 3, 3, 1, 0)}
	_, err = p3.Handle(unsorted.Sign(aid.Sign))
	wantErr(t, "unsorted decryption set", err, he.ErrMalformed)

	for _, p := range w.parties {
		p.Abort()
		if _, err := p.Handle(req.o.Data); !errors.Is(err, he.ErrAborted) {
			t.Fatalf("aborted party took the request: %v", err)
		}
	}
	w.agg.Abort()
	if _, err := w.agg.Result(); !errors.Is(err, he.ErrAborted) {
		t.Fatal(err)
	}
	if _, err := w.agg.Handle(req.o.Data); !errors.Is(err, he.ErrAborted) {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	w := newWorld(t, "q-cfg", 3, 2, 4)
	id0, _ := identity(t, "dept-0")
	aid, _ := identity(t, "aggregator")
	bad := func(name string, mut func(q *he.Query), self he.Identity, in []uint64) {
		t.Helper()
		q := w.q
		q.Members = append([]he.Member(nil), q.Members...)
		if mut != nil {
			mut(&q)
		}
		if _, err := he.NewParty(q, self, in); !errors.Is(err, he.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok := []uint64{1, 2, 3, 4}
	bad("threshold 1", func(q *he.Query) { q.Threshold = 1 }, id0, ok)
	bad("threshold above n", func(q *he.Query) { q.Threshold = 4 }, id0, ok)
	bad("one member", func(q *he.Query) { q.Members = q.Members[:1] }, id0, ok)
	bad("repeated member", func(q *he.Query) { q.Members[1] = q.Members[0] }, id0, ok)
	bad("aggregator is a member", func(q *he.Query) { q.Aggregator.ID = "dept-1" }, id0, ok)
	bad("vector too long", func(q *he.Query) { q.VectorLen = he.Slots + 1 }, id0, ok)
	bad("bad query ID", func(q *he.Query) { q.ID = "has space" }, id0, ok)
	bad("bad box key", func(q *he.Query) { q.Members[2].BoxKey = []byte{1} }, id0, ok)
	bad("not a member", nil, aid, ok)
	bad("wrong length", nil, id0, []uint64{1})
	bad("value over MaxValue", nil, id0, []uint64{1, he.MaxValue(3) + 1, 0, 0})
	wrongKey := id0
	wrongKey.Sign = aid.Sign
	bad("key not in roster", nil, wrongKey, ok)
	if _, err := he.NewAggregator(w.q, id0); !errors.Is(err, he.ErrConfig) {
		t.Errorf("member as aggregator: %v", err)
	}
	p := w.parties["dept-0"]
	if _, err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(); !errors.Is(err, he.ErrWrongPhase) {
		t.Errorf("second Start: %v", err)
	}
}
