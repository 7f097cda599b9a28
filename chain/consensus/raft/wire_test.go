package raft

//lint:file-ignore SA1019 the wire carries raft's deprecated Leader and Candidate fields

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
)

var testSuite = ed25519sha256.New()

func header() hraft.RPCHeader {
	return hraft.RPCHeader{ProtocolVersion: hraft.ProtocolVersionMax, ID: []byte("v1"), Addr: []byte("1")}
}

func sampleRequests() []any {
	return []any{
		&hraft.AppendEntriesRequest{RPCHeader: header(), Term: 3, Leader: []byte("1"), PrevLogEntry: 7, PrevLogTerm: 2, LeaderCommitIndex: 6,
			Entries: []*hraft.Log{{Index: 8, Term: 3, Type: hraft.LogCommand, Data: []byte{1, 2}, AppendedAt: time.Unix(1_700_000_000, 5)}, {Index: 9, Term: 3, Type: hraft.LogNoop}}},
		&hraft.AppendEntriesRequest{RPCHeader: header(), Term: 3, Leader: []byte("1")},
		&hraft.RequestVoteRequest{RPCHeader: header(), Term: 4, Candidate: []byte("2"), LastLogIndex: 9, LastLogTerm: 3, LeadershipTransfer: true},
		&hraft.RequestPreVoteRequest{RPCHeader: header(), Term: 5, LastLogIndex: 9, LastLogTerm: 3},
		&hraft.InstallSnapshotRequest{RPCHeader: header(), SnapshotVersion: 1, Term: 5, Leader: []byte("1"), LastLogIndex: 20, LastLogTerm: 5,
			Configuration: []byte("cfg"), ConfigurationIndex: 1, Size: 3},
		&hraft.TimeoutNowRequest{RPCHeader: header()},
	}
}

func sampleResponses() []any {
	return []any{
		&hraft.AppendEntriesResponse{RPCHeader: header(), Term: 3, LastLog: 9, Success: true, NoRetryBackoff: true},
		&hraft.RequestVoteResponse{RPCHeader: header(), Term: 4, Peers: []byte("p"), Granted: true},
		&hraft.RequestPreVoteResponse{RPCHeader: header(), Term: 5, Granted: true},
		&hraft.InstallSnapshotResponse{RPCHeader: header(), Term: 5, Success: true},
		&hraft.TimeoutNowResponse{RPCHeader: header()},
	}
}

// sameEntries compares logs ignoring AppendedAt's monotonic reading.
func normalise(x any) any {
	if r, ok := x.(*hraft.AppendEntriesRequest); ok {
		for _, l := range r.Entries {
			if !l.AppendedAt.IsZero() {
				l.AppendedAt = time.Unix(0, l.AppendedAt.UnixNano())
			}
		}
	}
	return x
}

func TestRequestRoundTrip(t *testing.T) {
	for _, req := range sampleRequests() {
		var snap []byte
		if s, ok := req.(*hraft.InstallSnapshotRequest); ok {
			snap = []byte("abc")[:s.Size]
		}
		w := codec.NewWriter(0)
		typ, err := encodeRequest(w, req, snap)
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		got, gotSnap, err := decodeRequest(typ, w.Bytes())
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(req)) || !bytes.Equal(gotSnap, snap) {
			t.Fatalf("%T: decoded %+v, want %+v", req, got, req)
		}
		for n := 0; n < len(w.Bytes()); n++ {
			if _, _, err := decodeRequest(typ, w.Bytes()[:n]); !errors.Is(err, ErrWire) {
				t.Fatalf("%T: prefix of %d bytes: %v", req, n, err)
			}
		}
		if _, _, err := decodeRequest(typ, append(w.Bytes(), 0)); !errors.Is(err, ErrWire) {
			t.Fatalf("%T: trailing byte: %v", req, err)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, resp := range sampleResponses() {
		w := codec.NewWriter(0)
		typ, err := encodeResponse(w, resp)
		if err != nil {
			t.Fatal(err)
		}
		got := newResponse(typ)
		if err := decodeResponse(typ, w.Bytes(), got); err != nil || !reflect.DeepEqual(got, resp) {
			t.Fatalf("%T: %v %+v", resp, err, got)
		}
		// A response of another type never decodes into this one.
		other := typ%rpcMax + 1
		if err := decodeResponse(other, w.Bytes(), got); !errors.Is(err, ErrWire) {
			t.Fatalf("%T as type %d: %v", resp, other, err)
		}
	}
}

// TestAppendEntriesTruncatedToOneMessage: entries beyond one message are
// left for the next call, and the request shows what was sent.
func TestAppendEntriesTruncatedToOneMessage(t *testing.T) {
	big := make([]byte, maxData-1)
	req := &hraft.AppendEntriesRequest{RPCHeader: header(), Term: 1, Leader: []byte("1"),
		Entries: []*hraft.Log{{Index: 1, Term: 1, Data: big[:maxData-100]}, {Index: 2, Term: 1, Data: big[:maxData/2]}, {Index: 3, Term: 1}}}
	w := codec.NewWriter(0)
	if _, err := encodeRequest(w, req, nil); err != nil {
		t.Fatal(err)
	}
	if len(req.Entries) != 1 || len(w.Bytes()) > consensus.MaxMessageSize {
		t.Fatalf("%d entries in %d bytes", len(req.Entries), len(w.Bytes()))
	}
	huge := &hraft.AppendEntriesRequest{RPCHeader: header(), Entries: []*hraft.Log{{Index: 1, Data: make([]byte, consensus.MaxMessageSize)}}}
	if _, err := encodeRequest(codec.NewWriter(0), huge, nil); err == nil {
		t.Fatal("an entry larger than a message was encoded")
	}
}

func TestEntryAndSnapshotRoundTrip(t *testing.T) {
	b := &chain.Block{Header: chain.Header{ChainID: "health", Height: 3, Time: 9, Proposer: "v1"}}
	got, c, err := decodeEntry(encodeProposal(b))
	if err != nil || c != nil || got.Header != b.Header {
		t.Fatalf("proposal: %v %+v", err, got)
	}
	ce := certEntry{height: 3, hash: b.Header.Hash(testSuite), commit: chain.Commit{Sigs: []chain.CommitSig{{Index: 0, Sig: []byte("s")}, {Index: 2, Sig: []byte("t")}}}}
	_, gc, err := decodeEntry(encodeCert(ce))
	if err != nil || !reflect.DeepEqual(*gc, ce) {
		t.Fatalf("cert: %v %+v", err, gc)
	}
	withCert := *b
	withCert.Commit = ce.commit
	if _, _, err := decodeEntry(encodeProposal(&withCert)); !errors.Is(err, ErrWire) {
		t.Fatalf("proposal with a certificate: %v", err)
	}
	for _, s := range []snapshot{{height: 0}, {height: 7, hash: ce.hash, pending: b}} {
		got, err := decodeSnapshot(encodeSnapshot(s))
		if err != nil || got.height != s.height || got.hash != s.hash || (s.pending == nil) != (got.pending == nil) {
			t.Fatalf("snapshot: %v %+v", err, got)
		}
	}
	if _, err := decodeSnapshot([]byte{2, 0}); !errors.Is(err, ErrWire) {
		t.Fatalf("snapshot version 2: %v", err)
	}
}

// FuzzMessage feeds arbitrary bytes to every decoder of the wire (what a
// peer, or a corrupted log, can hand us): no panic, and accepted requests
// and responses re-encode to what was accepted.
func FuzzMessage(f *testing.F) {
	for _, req := range sampleRequests() {
		w := codec.NewWriter(0)
		var snap []byte
		if s, ok := req.(*hraft.InstallSnapshotRequest); ok {
			snap = make([]byte, s.Size)
		}
		typ, _ := encodeRequest(w, req, snap)
		f.Add(append([]byte{kindRPC, typ}, w.Bytes()...))
	}
	for _, resp := range sampleResponses() {
		w := codec.NewWriter(0)
		typ, _ := encodeResponse(w, resp)
		f.Add(append([]byte{kindRPCReply, typ}, w.Bytes()...))
	}
	f.Add(encodeVote(kindVote, vote{height: 3, sig: []byte("sig")}))
	f.Add(encodeVote(kindVoteAsk, vote{height: 3}))
	f.Add(encodeProposal(&chain.Block{Header: chain.Header{ChainID: "c", Height: 1}}))
	f.Add(encodeSnapshot(snapshot{height: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		kind, typ, body := b[0], b[1], b[2:]
		switch kind {
		case kindRPC:
			req, snap, err := decodeRequest(typ, body)
			if err != nil {
				return
			}
			w := codec.NewWriter(0)
			if _, err := encodeRequest(w, req, snap); err != nil {
				t.Fatalf("accepted request does not re-encode: %v", err)
			}
			if !bytes.Equal(w.Bytes(), body) {
				t.Fatalf("request re-encodes differently")
			}
		case kindRPCReply:
			resp := newResponse(typ)
			if resp == nil || decodeResponse(typ, body, resp) != nil {
				return
			}
			w := codec.NewWriter(0)
			if _, err := encodeResponse(w, resp); err != nil || !bytes.Equal(w.Bytes(), body) {
				t.Fatalf("response re-encodes differently: %v", err)
			}
		case kindVote, kindVoteAsk:
			if v, err := decodeVote(kind, b[1:]); err == nil && !bytes.Equal(encodeVote(kind, v), b) {
				t.Fatal("vote re-encodes differently")
			}
		default:
			decodeEntry(b)
			decodeSnapshot(b)
		}
	})
}
