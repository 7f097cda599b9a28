package p2p

import (
	"errors"
	"testing"
)

// TestAddPeer: node a starts knowing nobody; node b (greater ID, so a
// dials it) knows a. Once AddPeer pins b's key and address on a, they
// connect and exchange a chain's messages both ways.
func TestAddPeer(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	tb := startTransport(t, testConfig(b, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}}), nil)
	ta := startTransport(t, testConfig(a, "127.0.0.1:0", nil), nil)
	ra, rb := &recorder{}, &recorder{}
	netB := tb.Chain("c", map[uint64]string{1: "a", 2: "b"}, 2, rb)
	if ta.peerByKey(b.pub) != nil {
		t.Fatal("b's key is known before AddPeer")
	}
	if err := ta.AddPeer(Peer{ID: "b", Addr: tb.Addr().String(), PubKey: b.pub}); err != nil {
		t.Fatal(err)
	}
	if err := ta.AddPeer(Peer{ID: "b", Addr: tb.Addr().String(), PubKey: b.pub}); err != nil {
		t.Fatalf("adding the same peer again: %v", err)
	}
	if err := ta.AddPeer(Peer{ID: "b2", Addr: tb.Addr().String(), PubKey: b.pub}); err == nil {
		t.Fatal("a second ID with b's key was added")
	}
	// Registered once b is a peer (node registers a chain again when its
	// set names a new validator).
	netA := ta.Chain("c", map[uint64]string{1: "a", 2: "b"}, 1, ra)
	waitFor(t, "a and b connected", func() bool { return ta.Stats()["b"].Connected && tb.Stats()["a"].Connected })
	netA.Send(2, []byte("from a"))
	netB.Send(1, []byte("from b"))
	waitFor(t, "messages both ways", func() bool { return rb.has(1, "from a") && ra.has(2, "from b") })
	ta.Close()
	if err := ta.AddPeer(Peer{ID: "z", Addr: "127.0.0.1:1", PubKey: newIdent(t, "z").pub}); !errors.Is(err, ErrClosed) {
		t.Fatalf("AddPeer after Close: %v", err)
	}
}
