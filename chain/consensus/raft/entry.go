package raft

import (
	"fmt"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/crypto"
)

// Raft log commands: the first byte of a LogCommand entry's data.
const (
	entryProposal byte = 1 // an uncertified block
	entryCert     byte = 2 // the certificate of the pending block
)

// certEntry certifies the block at height whose header hashes to hash.
type certEntry struct {
	height uint64
	hash   crypto.Hash
	commit chain.Commit
}

func encodeProposal(b *chain.Block) []byte {
	return append([]byte{entryProposal}, b.Encode()...)
}

func encodeCert(c certEntry) []byte {
	w := codec.NewWriter(64 + 100*len(c.commit.Sigs))
	w.Byte(entryCert)
	w.Uint(c.height)
	w.Fixed(c.hash[:])
	w.VarBytes(c.commit.Encode())
	return w.Bytes()
}

// decodeEntry strictly decodes a log command: a proposal (block, with an
// empty certificate) or a certificate.
func decodeEntry(data []byte) (*chain.Block, *certEntry, error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%w: empty log command", ErrWire)
	}
	switch data[0] {
	case entryProposal:
		if len(data)-1 > maxData {
			return nil, nil, fmt.Errorf("%w: proposal of %d bytes", ErrWire, len(data)-1)
		}
		b, err := chain.DecodeBlock(data[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrWire, err)
		}
		if len(b.Commit.Sigs) != 0 || len(b.Commit.Meta) != 0 {
			return nil, nil, fmt.Errorf("%w: proposal carries a certificate", ErrWire)
		}
		return b, nil, nil
	case entryCert:
		r := codec.NewReader(data[1:])
		c := &certEntry{height: r.Uint("cert.height")}
		r.Hash32("cert.hash", (*[32]byte)(&c.hash))
		enc := r.VarBytes("cert.commit", chain.MaxCommitSize)
		if err := r.Done(); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrWire, err)
		}
		cm, err := chain.DecodeCommit(enc)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrWire, err)
		}
		c.commit = *cm
		return nil, c, nil
	}
	return nil, nil, fmt.Errorf("%w: log command %d", ErrWire, data[0])
}

// snapshotVersion is the first byte of an FSM snapshot.
const snapshotVersion = 1

// snapshot is the FSM's state: the ledger is durable by itself, so only its
// head (height and header hash) and the block waiting for its certificate.
type snapshot struct {
	height  uint64
	hash    crypto.Hash
	pending *chain.Block
}

func encodeSnapshot(s snapshot) []byte {
	w := codec.NewWriter(64)
	w.Byte(snapshotVersion)
	w.Uint(s.height)
	w.Fixed(s.hash[:])
	var p []byte
	if s.pending != nil {
		p = s.pending.Encode()
	}
	w.VarBytes(p)
	return w.Bytes()
}

func decodeSnapshot(b []byte) (snapshot, error) {
	r := codec.NewReader(b)
	if v := r.Byte("snapshot.version"); r.Err() == nil && v != snapshotVersion {
		r.Failf("snapshot.version", "unsupported %d", v)
	}
	s := snapshot{height: r.Uint("snapshot.height")}
	r.Hash32("snapshot.hash", (*[32]byte)(&s.hash))
	p := r.VarBytes("snapshot.pending", maxData)
	if err := r.Done(); err != nil {
		return snapshot{}, fmt.Errorf("%w: snapshot: %w", ErrWire, err)
	}
	if p != nil {
		b, err := chain.DecodeBlock(p)
		if err != nil {
			return snapshot{}, fmt.Errorf("%w: snapshot: %w", ErrWire, err)
		}
		s.pending = b
	}
	return s, nil
}
