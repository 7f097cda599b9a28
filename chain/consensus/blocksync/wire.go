package blocksync

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/consensus"
)

// Wire limits.
const (
	// MaxBlocks bounds the blocks in one response.
	MaxBlocks = 256
	// MaxBytes is a response's soft size: blocks are added while the
	// response is under it (and never past consensus.MaxMessageSize).
	MaxBytes = 8 << 20
	// maxHeader bounds a response's kind byte, ID, head, base and count.
	maxHeader = 1 + 4*binary.MaxVarintLen64
)

// ErrMalformed wraps every request or response that does not decode.
var ErrMalformed = errors.New("blocksync: malformed message")

// A request asks a peer for up to max of its committed blocks from height
// from on: kind, id, from, max (minimal LEB128 varints). max is at most
// MaxBlocks; 0 asks only for the peer's head and base.
type request struct {
	id   uint64
	from uint64
	max  uint64
}

// A response carries the peer's head, its base (the lowest height whose
// block it still holds, the genesis aside) and up to MaxBlocks consecutive
// certified blocks: kind, id, head, base, count, then each encoded block
// with a length prefix.
type response struct {
	id     uint64
	head   uint64
	base   uint64
	blocks []*chain.Block
}

func encodeRequest(kind byte, q request) []byte {
	w := codec.NewWriter(maxHeader)
	w.Byte(kind)
	w.Uint(q.id)
	w.Uint(q.from)
	w.Uint(q.max)
	return w.Bytes()
}

// decodeRequest strictly decodes a request's body (after the kind byte).
func decodeRequest(body []byte) (request, error) {
	r := codec.NewReader(body)
	q := request{id: r.Uint("sync.id"), from: r.Uint("sync.from"), max: r.UintMax("sync.max", MaxBlocks)}
	if err := r.Done(); err != nil {
		return request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return q, nil
}

// encodeResponse writes a response from already encoded blocks.
func encodeResponse(kind byte, id, head, base uint64, encs [][]byte) []byte {
	size := maxHeader
	for _, e := range encs {
		size += binary.MaxVarintLen64 + len(e)
	}
	w := codec.NewWriter(size)
	w.Byte(kind)
	w.Uint(id)
	w.Uint(head)
	w.Uint(base)
	w.Uint(uint64(len(encs)))
	for _, e := range encs {
		w.VarBytes(e)
	}
	return w.Bytes()
}

// decodeResponse strictly decodes a response's body (after the kind byte):
// at most MaxBlocks blocks, each canonical, and nothing after them.
func decodeResponse(body []byte) (response, error) {
	r := codec.NewReader(body)
	p := response{id: r.Uint("sync.id"), head: r.Uint("sync.head"), base: r.Uint("sync.base")}
	n := r.UintMax("sync.count", MaxBlocks)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.VarBytes("sync.block", consensus.MaxMessageSize)
		if r.Err() != nil {
			break
		}
		b, err := chain.DecodeBlock(enc)
		if err != nil {
			return response{}, fmt.Errorf("%w: block %d: %w", ErrMalformed, i, err)
		}
		p.blocks = append(p.blocks, b)
	}
	if err := r.Done(); err != nil {
		return response{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}
