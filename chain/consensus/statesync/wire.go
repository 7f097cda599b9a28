package statesync

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/codec"
)

// Wire limits.
const (
	// ChunkSize is the data in every chunk but a snapshot's last.
	ChunkSize = 1 << 20
	// maxHeader bounds a message's kind, ID, offset and flag.
	maxHeader = 2 + 2*binary.MaxVarintLen64
)

// ErrMalformed wraps every ask or chunk that does not decode.
var ErrMalformed = errors.New("statesync: malformed message")

// An ask requests the chunk of snapshot session id at offset: kind, id,
// offset (minimal LEB128 varints). Offset 0 opens the session (the server
// pins its state then); an offset past the stream's end closes it.
type ask struct {
	id, offset uint64
}

// Chunk flags.
const (
	flagMore  byte = 0 // ChunkSize bytes, more follow
	flagLast  byte = 1 // the snapshot's last bytes (possibly none)
	flagBusy  byte = 2 // refused: no such session, or too many open
	flagLimit      = flagBusy
)

// A chunk carries snapshot bytes at offset: kind, id, offset, flag, then
// the data with a length prefix: exactly ChunkSize bytes unless last,
// none if busy.
type chunk struct {
	id, offset uint64
	flag       byte
	data       []byte
}

func encodeAsk(kind byte, a ask) []byte {
	w := codec.NewWriter(maxHeader)
	w.Byte(kind)
	w.Uint(a.id)
	w.Uint(a.offset)
	return w.Bytes()
}

// decodeAsk strictly decodes an ask's body (after the kind byte).
func decodeAsk(body []byte) (ask, error) {
	r := codec.NewReader(body)
	a := ask{id: r.Uint("snap.id"), offset: r.Uint("snap.offset")}
	if err := r.Done(); err != nil {
		return ask{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return a, nil
}

func encodeChunk(kind byte, c chunk) []byte {
	w := codec.NewWriter(maxHeader + binary.MaxVarintLen64 + len(c.data))
	w.Byte(kind)
	w.Uint(c.id)
	w.Uint(c.offset)
	w.Byte(c.flag)
	w.VarBytes(c.data)
	return w.Bytes()
}

// decodeChunk strictly decodes a chunk's body (after the kind byte).
func decodeChunk(body []byte) (chunk, error) {
	r := codec.NewReader(body)
	c := chunk{id: r.Uint("snap.id"), offset: r.Uint("snap.offset"), flag: r.Byte("snap.flag")}
	c.data = r.VarBytes("snap.data", ChunkSize)
	if err := r.Done(); err != nil {
		return chunk{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case c.flag > flagLimit:
		return chunk{}, fmt.Errorf("%w: flag %d", ErrMalformed, c.flag)
	case c.flag == flagMore && len(c.data) != ChunkSize, c.flag == flagBusy && len(c.data) != 0:
		return chunk{}, fmt.Errorf("%w: %d bytes with flag %d", ErrMalformed, len(c.data), c.flag)
	}
	return c, nil
}
