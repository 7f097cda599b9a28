package he

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"testing"
)

// FuzzDecodeMessage: decoding never panics, and what decodes re-encodes to
// the same bytes (the encoding is canonical).
func FuzzDecodeMessage(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, m := range []*Message{
		{Kind: KindKeyShare, Query: "q", Sender: "a", Payload: []byte{1, 2, 3}},
		{Kind: KindReady, Query: "q-1", Sender: "dept-0", To: "aggregator", Payload: make([]byte, 32)},
		{Kind: KindDecryptRequest, Query: "q", Sender: "agg", Payload: append(make([]byte, 32), 2, 0, 1)},
	} {
		f.Add(m.Sign(key))
	}
	f.Add([]byte("PHE1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = m.Verify(key.Public().(ed25519.PublicKey))
	})
}

// FuzzReadPoly: only exact-length, reduced polynomials decode, and they
// re-encode identically.
func FuzzReadPoly(f *testing.F) {
	f.Add(make([]byte, polySize()))
	f.Add(bytes.Repeat([]byte{0xff}, polySize()))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := readPoly(b)
		if err != nil {
			return
		}
		if !bytes.Equal(appendPoly(nil, p), b) {
			t.Fatal("poly re-encoding differs")
		}
	})
}

// FuzzParseRequest: decryption sets decode only as increasing member
// indexes of exactly the threshold.
func FuzzParseRequest(f *testing.F) {
	q := &Query{Threshold: 3, Members: make([]Member, 5)}
	f.Add(append(make([]byte, 32), 3, 0, 2, 4))
	f.Add(append(make([]byte, 32), 3, 4, 2, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, set, err := parseRequest(q, b)
		if err != nil {
			return
		}
		if !bytes.Equal(requestPayload(h, set), b) {
			t.Fatal("request re-encoding differs")
		}
	})
}

// FuzzHandle: any payload of any kind, correctly signed by a member or the
// aggregator, is handled or refused without a panic by a party and by the
// aggregator.
func FuzzHandle(f *testing.F) {
	var ids [3]Identity
	q := Query{ID: "fz", Threshold: 2, VectorLen: 4}
	for i := range ids {
		seed := bytes.Repeat([]byte{byte(i + 1)}, 32)
		box, err := ecdh.X25519().NewPrivateKey(seed)
		if err != nil {
			f.Fatal(err)
		}
		ids[i] = Identity{ID: string(rune('a' + i)), Sign: ed25519.NewKeyFromSeed(seed), Box: box}
		m := Member{ID: ids[i].ID, SignKey: ids[i].Sign.Public().(ed25519.PublicKey), BoxKey: box.PublicKey().Bytes()}
		if i == 2 {
			q.Aggregator = m
		} else {
			q.Members = append(q.Members, m)
		}
	}
	f.Add(uint8(KindKeyShare), uint8(1), false, []byte{1})
	f.Add(uint8(KindDecryptRequest), uint8(2), true, append(make([]byte, 32), 2, 0, 1))
	f.Add(uint8(KindContribution), uint8(1), true, make([]byte, 40))
	f.Add(uint8(KindThresholdShare), uint8(1), false, make([]byte, 100))
	f.Fuzz(func(t *testing.T, kind, from uint8, toAgg bool, payload []byte) {
		p, err := NewParty(q, ids[0], []uint64{1, 2, 3, 4})
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAggregator(q, ids[2])
		if err != nil {
			t.Fatal(err)
		}
		sender := ids[1+int(from)%2]
		to := ""
		if toAgg {
			to = q.Aggregator.ID
		} else if kind == uint8(KindThresholdShare) {
			to = ids[0].ID
		}
		m := &Message{Kind: Kind(kind%7 + 1), Query: q.ID, Sender: sender.ID, To: to, Payload: payload}
		if len(payload) > MaxPayload {
			return
		}
		data := m.Sign(sender.Sign)
		_, _ = p.Handle(data)
		_, _ = a.Handle(data)
	})
}
