package raft

import (
	"errors"
	"fmt"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/ledger/raftlog"
)

// Message kinds: the first byte of every message on a chain's stream.
const (
	kindRPC      byte = 1 // a Raft RPC request: sender incarnation, id, type, body
	kindRPCReply byte = 2 // its response: sender incarnation, id, type, error, body
	kindTx       byte = 3 // a transaction forwarded to the leader
	kindVote     byte = 4 // a certificate signature: height, header hash, signature
	kindVoteAsk  byte = 5 // the leader asks for a signature: height, header hash
	kindSyncAsk  byte = 6 // blocksync request: give me blocks from a height
	kindSyncGive byte = 7 // blocksync response: blocks
)

// Raft RPC types.
const (
	rpcAppend byte = iota + 1
	rpcVote
	rpcPreVote
	rpcSnapshot
	rpcTimeoutNow
	rpcMax = rpcTimeoutNow
)

// Wire limits.
const (
	// maxEntries bounds entries in one AppendEntries.
	maxEntries = 4096
	// maxSmall bounds IDs, addresses and encoded peer lists.
	maxSmall = 1024
	// maxConfig bounds an encoded Raft configuration.
	maxConfig = 64 << 10
	// maxErr bounds an RPC error string.
	maxErr = 1024
	// envelope is room for everything in a message but entry data.
	envelope = 64 << 10
	// maxData bounds a snapshot or one log entry's data: with the envelope
	// it fits one consensus message.
	maxData = consensus.MaxMessageSize - envelope
)

// ErrWire wraps every malformed message.
var ErrWire = errors.New("raft: malformed message")

func writeHeader(w *codec.Writer, h hraft.RPCHeader) {
	w.Uint(uint64(h.ProtocolVersion))
	w.VarBytes(h.ID)
	w.VarBytes(h.Addr)
}

func readHeader(r *codec.Reader) hraft.RPCHeader {
	return hraft.RPCHeader{
		ProtocolVersion: hraft.ProtocolVersion(r.UintMax("rpc.version", uint64(hraft.ProtocolVersionMax))),
		ID:              r.VarBytes("rpc.id", maxSmall),
		Addr:            r.VarBytes("rpc.addr", maxSmall),
	}
}

// encodeRequest writes a request's body; for AppendEntries it keeps only
// the entries that fit one message and truncates req.Entries to them
// (hashicorp/raft then advances the follower by what was sent).
func encodeRequest(w *codec.Writer, cmd any, snapshot []byte) (byte, error) {
	switch req := cmd.(type) {
	case *hraft.AppendEntriesRequest:
		writeHeader(w, req.RPCHeader)
		w.Uint(req.Term)
		//lint:ignore SA1019 raft v1.7 still fills and reads it for older peers; carried as is
		w.VarBytes(req.Leader)
		w.Uint(req.PrevLogEntry)
		w.Uint(req.PrevLogTerm)
		w.Uint(req.LeaderCommitIndex)
		encs := make([][]byte, 0, len(req.Entries))
		size := len(w.Bytes())
		for _, l := range req.Entries {
			if len(encs) == maxEntries {
				break
			}
			enc, err := raftlog.EncodeLog(l)
			if err != nil {
				return 0, err
			}
			if size+len(enc)+16 > consensus.MaxMessageSize-64 {
				break
			}
			size += len(enc) + 16
			encs = append(encs, enc)
		}
		if len(encs) == 0 && len(req.Entries) > 0 {
			return 0, fmt.Errorf("raft: log entry %d does not fit a message", req.Entries[0].Index)
		}
		req.Entries = req.Entries[:len(encs)]
		w.Uint(uint64(len(encs)))
		for _, e := range encs {
			w.VarBytes(e)
		}
		return rpcAppend, nil
	case *hraft.RequestVoteRequest:
		writeHeader(w, req.RPCHeader)
		w.Uint(req.Term)
		//lint:ignore SA1019 raft v1.7 still fills and reads it for older peers; carried as is
		w.VarBytes(req.Candidate)
		w.Uint(req.LastLogIndex)
		w.Uint(req.LastLogTerm)
		w.Bool(req.LeadershipTransfer)
		return rpcVote, nil
	case *hraft.RequestPreVoteRequest:
		writeHeader(w, req.RPCHeader)
		w.Uint(req.Term)
		w.Uint(req.LastLogIndex)
		w.Uint(req.LastLogTerm)
		return rpcPreVote, nil
	case *hraft.InstallSnapshotRequest:
		if len(snapshot) > maxData || int64(len(snapshot)) != req.Size {
			return 0, fmt.Errorf("raft: snapshot of %d bytes (header says %d, limit %d)", len(snapshot), req.Size, maxData)
		}
		writeHeader(w, req.RPCHeader)
		w.Uint(uint64(req.SnapshotVersion))
		w.Uint(req.Term)
		w.VarBytes(req.Leader)
		w.Uint(req.LastLogIndex)
		w.Uint(req.LastLogTerm)
		w.VarBytes(req.Peers)
		w.VarBytes(req.Configuration)
		w.Uint(req.ConfigurationIndex)
		w.VarBytes(snapshot)
		return rpcSnapshot, nil
	case *hraft.TimeoutNowRequest:
		writeHeader(w, req.RPCHeader)
		return rpcTimeoutNow, nil
	}
	return 0, fmt.Errorf("raft: unknown request %T", cmd)
}

// decodeRequest strictly decodes a request body of type typ; for
// InstallSnapshot it also returns the snapshot bytes.
func decodeRequest(typ byte, b []byte) (any, []byte, error) {
	r := codec.NewReader(b)
	var cmd any
	var snap []byte
	switch typ {
	case rpcAppend:
		req := &hraft.AppendEntriesRequest{RPCHeader: readHeader(r)}
		req.Term = r.Uint("append.term")
		//lint:ignore SA1019 raft v1.7 still fills and reads it for older peers; carried as is
		req.Leader = r.VarBytes("append.leader", maxSmall)
		req.PrevLogEntry = r.Uint("append.prev_index")
		req.PrevLogTerm = r.Uint("append.prev_term")
		req.LeaderCommitIndex = r.Uint("append.commit")
		n := r.UintMax("append.count", maxEntries)
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			enc := r.VarBytes("append.entry", consensus.MaxMessageSize)
			if r.Err() != nil {
				break
			}
			l, err := raftlog.DecodeLog(enc)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrWire, i, err)
			}
			req.Entries = append(req.Entries, l)
		}
		cmd = req
	case rpcVote:
		req := &hraft.RequestVoteRequest{RPCHeader: readHeader(r)}
		req.Term = r.Uint("vote.term")
		//lint:ignore SA1019 raft v1.7 still fills and reads it for older peers; carried as is
		req.Candidate = r.VarBytes("vote.candidate", maxSmall)
		req.LastLogIndex = r.Uint("vote.last_index")
		req.LastLogTerm = r.Uint("vote.last_term")
		req.LeadershipTransfer = r.Bool("vote.transfer")
		cmd = req
	case rpcPreVote:
		req := &hraft.RequestPreVoteRequest{RPCHeader: readHeader(r)}
		req.Term = r.Uint("prevote.term")
		req.LastLogIndex = r.Uint("prevote.last_index")
		req.LastLogTerm = r.Uint("prevote.last_term")
		cmd = req
	case rpcSnapshot:
		req := &hraft.InstallSnapshotRequest{RPCHeader: readHeader(r)}
		req.SnapshotVersion = hraft.SnapshotVersion(r.UintMax("snap.version", uint64(hraft.SnapshotVersionMax)))
		req.Term = r.Uint("snap.term")
		req.Leader = r.VarBytes("snap.leader", maxSmall)
		req.LastLogIndex = r.Uint("snap.last_index")
		req.LastLogTerm = r.Uint("snap.last_term")
		req.Peers = r.VarBytes("snap.peers", maxSmall)
		req.Configuration = r.VarBytes("snap.config", maxConfig)
		req.ConfigurationIndex = r.Uint("snap.config_index")
		snap = r.VarBytes("snap.data", maxData)
		req.Size = int64(len(snap))
		cmd = req
	case rpcTimeoutNow:
		cmd = &hraft.TimeoutNowRequest{RPCHeader: readHeader(r)}
	default:
		return nil, nil, fmt.Errorf("%w: rpc type %d", ErrWire, typ)
	}
	if err := r.Done(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrWire, err)
	}
	return cmd, snap, nil
}

// encodeResponse writes a response body.
func encodeResponse(w *codec.Writer, resp any) (byte, error) {
	switch x := resp.(type) {
	case *hraft.AppendEntriesResponse:
		writeHeader(w, x.RPCHeader)
		w.Uint(x.Term)
		w.Uint(x.LastLog)
		w.Bool(x.Success)
		w.Bool(x.NoRetryBackoff)
		return rpcAppend, nil
	case *hraft.RequestVoteResponse:
		writeHeader(w, x.RPCHeader)
		w.Uint(x.Term)
		w.VarBytes(x.Peers)
		w.Bool(x.Granted)
		return rpcVote, nil
	case *hraft.RequestPreVoteResponse:
		writeHeader(w, x.RPCHeader)
		w.Uint(x.Term)
		w.Bool(x.Granted)
		return rpcPreVote, nil
	case *hraft.InstallSnapshotResponse:
		writeHeader(w, x.RPCHeader)
		w.Uint(x.Term)
		w.Bool(x.Success)
		return rpcSnapshot, nil
	case *hraft.TimeoutNowResponse:
		writeHeader(w, x.RPCHeader)
		return rpcTimeoutNow, nil
	}
	return 0, fmt.Errorf("raft: unknown response %T", resp)
}

// decodeResponse strictly decodes a response body into dst, which must be
// the response type of typ.
func decodeResponse(typ byte, b []byte, dst any) error {
	r := codec.NewReader(b)
	switch x := dst.(type) {
	case *hraft.AppendEntriesResponse:
		if typ != rpcAppend {
			break
		}
		x.RPCHeader = readHeader(r)
		x.Term = r.Uint("append.term")
		x.LastLog = r.Uint("append.last_log")
		x.Success = r.Bool("append.success")
		x.NoRetryBackoff = r.Bool("append.no_backoff")
		return done(r)
	case *hraft.RequestVoteResponse:
		if typ != rpcVote {
			break
		}
		x.RPCHeader = readHeader(r)
		x.Term = r.Uint("vote.term")
		x.Peers = r.VarBytes("vote.peers", maxSmall)
		x.Granted = r.Bool("vote.granted")
		return done(r)
	case *hraft.RequestPreVoteResponse:
		if typ != rpcPreVote {
			break
		}
		x.RPCHeader = readHeader(r)
		x.Term = r.Uint("prevote.term")
		x.Granted = r.Bool("prevote.granted")
		return done(r)
	case *hraft.InstallSnapshotResponse:
		if typ != rpcSnapshot {
			break
		}
		x.RPCHeader = readHeader(r)
		x.Term = r.Uint("snap.term")
		x.Success = r.Bool("snap.success")
		return done(r)
	case *hraft.TimeoutNowResponse:
		if typ != rpcTimeoutNow {
			break
		}
		x.RPCHeader = readHeader(r)
		return done(r)
	}
	return fmt.Errorf("%w: response type %d for %T", ErrWire, typ, dst)
}

func done(r *codec.Reader) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %w", ErrWire, err)
	}
	return nil
}

// newResponse returns an empty response of the type answering typ.
func newResponse(typ byte) any {
	switch typ {
	case rpcAppend:
		return &hraft.AppendEntriesResponse{}
	case rpcVote:
		return &hraft.RequestVoteResponse{}
	case rpcPreVote:
		return &hraft.RequestPreVoteResponse{}
	case rpcSnapshot:
		return &hraft.InstallSnapshotResponse{}
	case rpcTimeoutNow:
		return &hraft.TimeoutNowResponse{}
	}
	return nil
}

// vote is a certificate signature (kindVote) or a request for one
// (kindVoteAsk, no signature).
type vote struct {
	height uint64
	hash   [32]byte
	sig    []byte
}

func encodeVote(kind byte, v vote) []byte {
	w := codec.NewWriter(48 + len(v.sig))
	w.Byte(kind)
	w.Uint(v.height)
	w.Fixed(v.hash[:])
	if kind == kindVote {
		w.VarBytes(v.sig)
	}
	return w.Bytes()
}

func decodeVote(kind byte, b []byte) (vote, error) {
	r := codec.NewReader(b)
	var v vote
	v.height = r.Uint("vote.height")
	r.Hash32("vote.hash", &v.hash)
	if kind == kindVote {
		v.sig = r.VarBytes("vote.sig", chain.MaxSignatureLen)
	}
	if err := r.Done(); err != nil {
		return vote{}, fmt.Errorf("%w: %w", ErrWire, err)
	}
	return v, nil
}
