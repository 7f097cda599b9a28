package raft

import (
	"errors"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain/codec"
)

// capture is a Network that keeps what is sent.
type capture chan []byte

func (c capture) Send(_ uint64, msg []byte) {
	select {
	case c <- msg:
	default:
	}
}

// TestTransportFailsCallsToARestartedPeer: a request from a peer under a
// new incarnation fails the calls in flight to it at once (with a minute's
// RPC timeout, the call would otherwise wait that long); requests from the
// same incarnation do not.
func TestTransportFailsCallsToARestartedPeer(t *testing.T) {
	toB, toA := make(capture, 8), make(capture, 8)
	a := newTransport(1, 2, toB, time.Minute)
	defer a.Close()
	done := make(chan error, 1)
	go func() {
		var resp hraft.AppendEntriesResponse
		done <- a.AppendEntries("b", addrOf(2), &hraft.AppendEntriesRequest{Term: 1}, &resp)
	}()
	<-toB // a's request went out; b never answers it

	// b asks a something, twice from its first incarnation, then once
	// from a new one (b restarted).
	ask := func(b *transport) {
		go func() {
			var resp hraft.RequestVoteResponse
			_ = b.RequestVote("a", addrOf(1), &hraft.RequestVoteRequest{Term: 2}, &resp)
		}()
		msg := <-toA
		a.serve(2, msg[1:])
	}
	b1 := newTransport(2, 2, toA, time.Minute)
	defer b1.Close()
	ask(b1)
	ask(b1)
	// serve fails calls synchronously: the call must still wait, unanswered.
	a.mu.Lock()
	waiting := 0
	for _, c := range a.mu.calls {
		if c.to == 2 && len(c.ch) == 0 {
			waiting++
		}
	}
	a.mu.Unlock()
	if waiting != 1 {
		t.Fatal("the call to b was failed by requests from b's same incarnation")
	}
	b2 := newTransport(2, 2, toA, time.Minute)
	defer b2.Close()
	ask(b2)
	if err := <-done; !errors.Is(err, ErrPeerRestarted) {
		t.Fatalf("call to the restarted peer: %v", err)
	}
}

// TestTransportResponseFromARestartedPeer: a restarted peer may answer a
// request the network queued for its earlier incarnation (a heartbeat);
// that call succeeds, and the other calls in flight to the peer fail at
// once.
func TestTransportResponseFromARestartedPeer(t *testing.T) {
	toB, toA := make(capture, 8), make(capture, 8)
	a := newTransport(1, 2, toB, time.Minute)
	defer a.Close()
	b1 := newTransport(2, 2, toA, time.Minute)
	defer b1.Close()
	// b's first incarnation makes itself known.
	go func() {
		var resp hraft.RequestVoteResponse
		_ = b1.RequestVote("a", addrOf(1), &hraft.RequestVoteRequest{Term: 2}, &resp)
	}()
	msg := <-toA
	a.serve(2, msg[1:])

	lost, answered := make(chan error, 1), make(chan error, 1)
	go func() {
		var resp hraft.AppendEntriesResponse
		lost <- a.AppendEntries("b", addrOf(2), &hraft.AppendEntriesRequest{Term: 3, Entries: []*hraft.Log{{Index: 1, Term: 3}}}, &resp)
	}()
	<-toB // never delivered: b1 died with it
	go func() {
		var resp hraft.AppendEntriesResponse
		answered <- a.AppendEntries("b", addrOf(2), &hraft.AppendEntriesRequest{Term: 3, RPCHeader: hraft.RPCHeader{Addr: []byte("1")}}, &resp)
	}()
	req := <-toB
	b2 := newTransport(2, 2, toA, time.Minute)
	defer b2.Close()
	b2.serve(1, req[1:])
	rpc := <-b2.Consumer()
	rpc.Respond(&hraft.AppendEntriesResponse{Term: 3, Success: true}, nil)
	a.reply(2, (<-toA)[1:])
	if err := <-answered; err != nil {
		t.Fatalf("the answered call: %v", err)
	}
	if err := <-lost; !errors.Is(err, ErrPeerRestarted) {
		t.Fatalf("the call the earlier incarnation never answered: %v", err)
	}
}

// FuzzTransportEnvelope feeds arbitrary request and response envelopes
// (incarnation, call ID, type, then the body) to a transport: no panic.
func FuzzTransportEnvelope(f *testing.F) {
	for _, req := range sampleRequests() {
		w := codec.NewWriter(0)
		w.Uint(7) // incarnation
		w.Uint(1) // call ID
		var snap []byte
		if s, ok := req.(*hraft.InstallSnapshotRequest); ok {
			snap = make([]byte, s.Size)
		}
		typ, _ := encodeRequest(w, req, snap)
		b := w.Bytes()
		f.Add(append(append([]byte{}, b[:2]...), append([]byte{typ}, b[2:]...)...))
	}
	f.Add([]byte{7, 1, rpcAppend, 0})
	f.Add([]byte{0, 1, rpcVote})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := newTransport(1, 3, make(capture, 1), time.Millisecond)
		defer tr.Close()
		tr.reply(2, b)
		tr.serve(2, b)
	})
}
