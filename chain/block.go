package chain

import (
	"errors"
	"fmt"

	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/merkle"
)

// Limits on blocks.
const (
	MaxBlockTxs      = 20000
	MaxBlockSize     = 64 << 20
	MaxValidators    = 256
	MaxValidatorID   = 128
	HeaderVersion    = 1
	maxHeaderEncoded = 1024
)

// ErrBlockMalformed wraps every block, header and certificate decoding error.
var ErrBlockMalformed = errors.New("malformed block")

// Header commits to a block's contents and to the state after executing it.
type Header struct {
	ChainID        string
	Height         uint64
	Time           uint64 // proposer's clock, Unix milliseconds; strictly increasing
	Parent         crypto.Hash
	Proposer       string      // validator ID
	TxRoot         crypto.Hash // RFC 6962 root over tx IDs
	TxCount        uint64
	StateRoot      crypto.Hash // sparse Merkle root after executing this block
	ReceiptsRoot   crypto.Hash // RFC 6962 root over receipt encodings
	ValidatorsHash crypto.Hash // hash of the validator set that certifies this header
}

// Encode returns the canonical encoding (the header hash pre-image).
func (h *Header) Encode() []byte {
	w := codec.NewWriter(256)
	w.Byte(HeaderVersion)
	w.String(h.ChainID)
	w.Uint(h.Height)
	w.Uint(h.Time)
	w.Fixed(h.Parent[:])
	w.String(h.Proposer)
	w.Fixed(h.TxRoot[:])
	w.Uint(h.TxCount)
	w.Fixed(h.StateRoot[:])
	w.Fixed(h.ReceiptsRoot[:])
	w.Fixed(h.ValidatorsHash[:])
	return w.Bytes()
}

func (h *Header) decode(r *codec.Reader) {
	if v := r.Byte("header.version"); r.Err() == nil && v != HeaderVersion {
		r.Failf("header.version", "unsupported version %d", v)
	}
	h.ChainID = r.String("header.chain_id", MaxChainIDLen)
	h.Height = r.Uint("header.height")
	h.Time = r.Uint("header.time")
	r.Hash32("header.parent", (*[32]byte)(&h.Parent))
	h.Proposer = r.String("header.proposer", MaxValidatorID)
	r.Hash32("header.tx_root", (*[32]byte)(&h.TxRoot))
	h.TxCount = r.UintMax("header.tx_count", MaxBlockTxs)
	r.Hash32("header.state_root", (*[32]byte)(&h.StateRoot))
	r.Hash32("header.receipts_root", (*[32]byte)(&h.ReceiptsRoot))
	r.Hash32("header.validators_hash", (*[32]byte)(&h.ValidatorsHash))
}

// DecodeHeader strictly decodes a header.
func DecodeHeader(b []byte) (*Header, error) {
	if len(b) > maxHeaderEncoded {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrBlockMalformed, len(b))
	}
	h := new(Header)
	r := codec.NewReader(b)
	h.decode(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlockMalformed, err)
	}
	return h, nil
}

// Hash is the header's identity: the suite hash of its encoding.
func (h *Header) Hash(s crypto.Suite) crypto.Hash { return s.Hash(h.Encode()) }

// Block is a certified header with its transactions.
type Block struct {
	Header Header
	Txs    []*Tx
	Commit Commit // certificate over Header; empty on the genesis block
}

// Encode returns the canonical encoding: header, tx count, txs, certificate.
func (b *Block) Encode() []byte {
	hdr := b.Header.Encode()
	size := len(hdr) + 16
	encs := make([][]byte, len(b.Txs))
	for i, tx := range b.Txs {
		encs[i] = tx.Encode()
		size += len(encs[i]) + 4
	}
	w := codec.NewWriter(size + 128*len(b.Commit.Sigs))
	w.VarBytes(hdr)
	w.Uint(uint64(len(encs)))
	for _, e := range encs {
		w.VarBytes(e)
	}
	b.Commit.encode(w)
	return w.Bytes()
}

// DecodeBlock strictly decodes a block and checks that TxCount matches.
func DecodeBlock(data []byte) (*Block, error) {
	if len(data) > MaxBlockSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrBlockMalformed, len(data), MaxBlockSize)
	}
	r := codec.NewReader(data)
	b := new(Block)
	hdr := r.VarBytes("block.header", maxHeaderEncoded)
	if r.Err() == nil {
		hr := codec.NewReader(hdr)
		b.Header.decode(hr)
		if err := hr.Done(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBlockMalformed, err)
		}
	}
	n := r.UintMax("block.tx_count", MaxBlockTxs)
	if r.Err() == nil && n != b.Header.TxCount {
		r.Failf("block.tx_count", "%d txs but header says %d", n, b.Header.TxCount)
	}
	if r.Err() == nil && n > 0 {
		b.Txs = make([]*Tx, n)
	}
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		enc := r.VarBytes("block.tx", MaxTxSize)
		if r.Err() != nil {
			break
		}
		tx, err := DecodeTx(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: tx %d: %w", ErrBlockMalformed, i, err)
		}
		b.Txs[i] = tx
	}
	b.Commit.decode(r)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlockMalformed, err)
	}
	return b, nil
}

// TxIDs returns the IDs of b's transactions in order.
func (b *Block) TxIDs(s crypto.Suite) []crypto.Hash {
	ids := make([]crypto.Hash, len(b.Txs))
	for i, tx := range b.Txs {
		ids[i] = tx.ID(s)
	}
	return ids
}

// TxRoot is the RFC 6962 root over the transaction IDs.
func TxRoot(s crypto.Suite, ids []crypto.Hash) crypto.Hash {
	leaves := make([]crypto.Hash, len(ids))
	for i, id := range ids {
		leaves[i] = merkle.LeafHash(s, id[:])
	}
	return merkle.Root(s, leaves)
}

// ReceiptLeaves returns the leaf hashes of the receipts root.
func ReceiptLeaves(s crypto.Suite, rcs []*Receipt) []crypto.Hash {
	leaves := make([]crypto.Hash, len(rcs))
	for i, rc := range rcs {
		leaves[i] = merkle.LeafHash(s, rc.Encode())
	}
	return leaves
}

// ReceiptsRoot is the RFC 6962 root over the receipt encodings.
func ReceiptsRoot(s crypto.Suite, rcs []*Receipt) crypto.Hash {
	return merkle.Root(s, ReceiptLeaves(s, rcs))
}
