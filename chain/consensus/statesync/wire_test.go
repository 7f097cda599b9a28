package statesync

import (
	"bytes"
	"errors"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	a := ask{id: 1 << 60, offset: 3 * ChunkSize}
	got, err := decodeAsk(encodeAsk(kindAsk, a)[1:])
	if err != nil || got != a {
		t.Fatalf("ask: %+v, %v", got, err)
	}
	for _, c := range []chunk{
		{id: 5, offset: 0, flag: flagMore, data: bytes.Repeat([]byte{7}, ChunkSize)},
		{id: 5, offset: ChunkSize, flag: flagLast, data: []byte("end")},
		{id: 5, offset: 9, flag: flagLast},
		{id: 6, offset: 9, flag: flagBusy},
	} {
		got, err := decodeChunk(encodeChunk(kindChunk, c)[1:])
		if err != nil || got.id != c.id || got.offset != c.offset || got.flag != c.flag || !bytes.Equal(got.data, c.data) {
			t.Fatalf("chunk %d/%d: %v", c.offset, c.flag, err)
		}
	}
}

func TestWireRefusals(t *testing.T) {
	bad := map[string][]byte{
		"short more chunk":   encodeChunk(kindChunk, chunk{flag: flagMore, data: []byte("x")})[1:],
		"busy with data":     encodeChunk(kindChunk, chunk{flag: flagBusy, data: []byte("x")})[1:],
		"unknown flag":       encodeChunk(kindChunk, chunk{flag: 3})[1:],
		"oversized chunk":    encodeChunk(kindChunk, chunk{flag: flagLast, data: make([]byte, ChunkSize+1)})[1:],
		"trailing byte":      append(encodeChunk(kindChunk, chunk{flag: flagLast})[1:], 0),
		"cut":                encodeChunk(kindChunk, chunk{flag: flagLast, data: []byte("abc")})[1:6],
		"non-minimal varint": {0x81, 0x00, 0, 1, 0},
	}
	for name, b := range bad {
		if _, err := decodeChunk(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := decodeAsk(append(encodeAsk(kindAsk, ask{1, 2})[1:], 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("ask with a trailing byte: %v", err)
	}
}

// FuzzWire feeds arbitrary bytes to both decoders (what any peer can send):
// no panic, and what is accepted re-encodes to the same bytes.
func FuzzWire(f *testing.F) {
	f.Add(encodeAsk(kindAsk, ask{id: 1, offset: 0})[1:])
	f.Add(encodeChunk(kindChunk, chunk{id: 1, flag: flagLast, data: []byte("state")})[1:])
	f.Add(encodeChunk(kindChunk, chunk{id: 1, flag: flagBusy})[1:])
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		if a, err := decodeAsk(body); err == nil && !bytes.Equal(encodeAsk(kindAsk, a)[1:], body) {
			t.Fatal("ask re-encodes differently")
		}
		if c, err := decodeChunk(body); err == nil && !bytes.Equal(encodeChunk(kindChunk, c)[1:], body) {
			t.Fatal("chunk re-encodes differently")
		}
	})
}
