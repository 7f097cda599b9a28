package raft

import (
	"errors"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
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
