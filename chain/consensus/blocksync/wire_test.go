package blocksync

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/polityledger/polity/chain"
)

const (
	kindAsk  byte = 6
	kindGive byte = 7
)

func sampleBlocks() []*chain.Block {
	return []*chain.Block{
		{Header: chain.Header{ChainID: "health", Height: 5, Time: 9, Proposer: "v1"},
			Commit: chain.Commit{Sigs: []chain.CommitSig{{Index: 0, Sig: []byte("s")}, {Index: 2, Sig: []byte("t")}}}},
		{Header: chain.Header{ChainID: "health", Height: 6, Time: 10, Proposer: "v2"}},
	}
}

func encodeBlocks(bs []*chain.Block) [][]byte {
	var encs [][]byte
	for _, b := range bs {
		encs = append(encs, b.Encode())
	}
	return encs
}

// strict asserts every proper prefix and a trailing byte are refused.
func strict(t *testing.T, what string, body []byte, decode func([]byte) error) {
	t.Helper()
	for n := 0; n < len(body); n++ {
		if err := decode(body[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: prefix of %d bytes: %v", what, n, err)
		}
	}
	if err := decode(append(append([]byte(nil), body...), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%s: trailing byte: %v", what, err)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	q := request{id: 300, from: 1 << 40, max: MaxBlocks}
	msg := encodeRequest(kindAsk, q)
	if msg[0] != kindAsk {
		t.Fatalf("kind %d", msg[0])
	}
	got, err := decodeRequest(msg[1:])
	if err != nil || got != q {
		t.Fatalf("%v %+v", err, got)
	}
	strict(t, "request", msg[1:], func(b []byte) error { _, err := decodeRequest(b); return err })
	// max is at most MaxBlocks.
	if _, err := decodeRequest(encodeRequest(kindAsk, request{id: 1, from: 2, max: MaxBlocks + 1})[1:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("max over MaxBlocks: %v", err)
	}
	// A non-minimal varint is not the request's one encoding.
	if _, err := decodeRequest([]byte{0x81, 0x00, 1, 1}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-minimal id: %v", err)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, bs := range [][]*chain.Block{nil, sampleBlocks()} {
		msg := encodeResponse(kindGive, 3, 9, 4, encodeBlocks(bs))
		got, err := decodeResponse(msg[1:])
		if err != nil || got.id != 3 || got.head != 9 || got.base != 4 || len(got.blocks) != len(bs) {
			t.Fatalf("%v %+v", err, got)
		}
		for i := range bs {
			if !reflect.DeepEqual(got.blocks[i].Encode(), bs[i].Encode()) {
				t.Fatalf("block %d differs", i)
			}
		}
		strict(t, "response", msg[1:], func(b []byte) error { _, err := decodeResponse(b); return err })
	}
}

func TestResponseBounds(t *testing.T) {
	// One block more than MaxBlocks is refused before any block is read.
	encs := make([][]byte, MaxBlocks+1)
	for i := range encs {
		encs[i] = sampleBlocks()[1].Encode()
	}
	if _, err := decodeResponse(encodeResponse(kindGive, 1, 1, 0, encs)[1:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d blocks: %v", len(encs), err)
	}
	if _, err := decodeResponse(encodeResponse(kindGive, 1, 1, 0, encs[:MaxBlocks])[1:]); err != nil {
		t.Fatalf("%d blocks: %v", MaxBlocks, err)
	}
	// A block that does not decode fails the whole response.
	if _, err := decodeResponse(encodeResponse(kindGive, 1, 1, 0, [][]byte{{1, 2, 3}})[1:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage block: %v", err)
	}
}

// FuzzResponse feeds arbitrary bytes to both decoders (what any peer can
// send): no panic, and what is accepted re-encodes to the same bytes, so
// each message has one encoding.
func FuzzResponse(f *testing.F) {
	f.Add(encodeResponse(kindGive, 1, 5, 0, nil)[1:])
	f.Add(encodeResponse(kindGive, 2, 6, 3, encodeBlocks(sampleBlocks()))[1:])
	f.Add(encodeRequest(kindAsk, request{id: 1, from: 5, max: MaxBlocks})[1:])
	f.Add(encodeRequest(kindAsk, request{id: 1, from: 5})[1:])
	f.Add([]byte{1, 5, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		if q, err := decodeRequest(body); err == nil && !bytes.Equal(encodeRequest(kindAsk, q)[1:], body) {
			t.Fatal("request re-encodes differently")
		}
		p, err := decodeResponse(body)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeResponse(kindGive, p.id, p.head, p.base, encodeBlocks(p.blocks))[1:], body) {
			t.Fatal("response re-encodes differently")
		}
	})
}
