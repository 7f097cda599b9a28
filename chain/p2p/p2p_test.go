package p2p

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain/consensus"
)

// ---- helpers ----

type ident struct {
	id  string
	pub ed25519.PublicKey
	key ed25519.PrivateKey
}

func newIdent(t testing.TB, id string) ident {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return ident{id: id, pub: pub, key: key}
}

func testLogger() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func testConfig(self ident, listen string, peers []Peer) Config {
	return Config{
		ID:             self.id,
		Key:            self.key,
		Listen:         listen,
		Peers:          peers,
		Logger:         testLogger(),
		QueueSize:      256,
		DialBackoffMin: 5 * time.Millisecond,
		DialBackoffMax: 100 * time.Millisecond,
	}
}

// startTransport creates and starts a transport, closing it at cleanup.
func startTransport(t *testing.T, cfg Config, before func(*Transport)) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(tr)
	}
	if err := tr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// cluster starts transports for ids in descending order, so each one knows
// the listen addresses of the peers it dials (those with greater IDs).
type cluster struct {
	ids    []ident
	trs    map[string]*Transport
	addrs  map[string]string
	before func(id string, tr *Transport)
}

func (c *cluster) peers(addrs map[string]string) []Peer {
	var ps []Peer
	for _, o := range c.ids {
		ps = append(ps, Peer{ID: o.id, Addr: addrs[o.id], PubKey: o.pub})
	}
	return ps
}

func startCluster(t *testing.T, names []string, before func(id string, tr *Transport)) *cluster {
	t.Helper()
	c := &cluster{trs: map[string]*Transport{}, addrs: map[string]string{}, before: before}
	for _, n := range names {
		c.ids = append(c.ids, newIdent(t, n))
	}
	sorted := slices.Clone(c.ids)
	slices.SortFunc(sorted, func(a, b ident) int { return strings.Compare(b.id, a.id) })
	for _, me := range sorted {
		var bf func(*Transport)
		if before != nil {
			bf = func(tr *Transport) { before(me.id, tr) }
		}
		tr := startTransport(t, testConfig(me, "127.0.0.1:0", c.peers(c.addrs)), bf)
		c.trs[me.id] = tr
		c.addrs[me.id] = tr.Addr().String()
	}
	return c
}

func (c *cluster) ident(id string) ident {
	for _, i := range c.ids {
		if i.id == id {
			return i
		}
	}
	panic(id)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func (c *cluster) allConnected() bool {
	for _, tr := range c.trs {
		for _, s := range tr.Stats() {
			if !s.Connected {
				return false
			}
		}
	}
	return true
}

type rec struct {
	from uint64
	msg  string
}

type recorder struct {
	mu    sync.Mutex
	msgs  []rec
	block chan struct{} // if non-nil, Receive waits for it to close
}

func (r *recorder) Receive(from uint64, msg []byte) {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, rec{from, string(msg)})
	r.mu.Unlock()
}

func (r *recorder) has(from uint64, msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs, rec{from, msg})
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) all() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// rawPeer performs the client side of the protocol by hand: TLS with a
// certificate for (certID, key), then a hello naming helloID.
func rawPeer(t *testing.T, addr, certID, helloID string, key ed25519.PrivateKey) (*tls.Conn, error) {
	t.Helper()
	cert, err := selfSigned(certID, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.DialTimeout("tcp", addr, HandshakeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // the test client trusts the server
		NextProtos:         []string{alpn},
	})
	t.Cleanup(func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	if _, err := tc.Write(appendHello(nil, helloID)); err != nil {
		return nil, err
	}
	v, id, err := readHello(tc)
	if err != nil {
		return nil, err
	}
	if v != ProtocolVersion {
		return nil, fmt.Errorf("version %d", v)
	}
	_ = id
	raw.SetDeadline(time.Time{})
	return tc, nil
}

func fakeCert(t *testing.T, id string, key ed25519.PrivateKey) *x509.Certificate {
	t.Helper()
	c, err := selfSigned(id, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// expectClosed reads from c until an error, failing if data arrives or
// nothing happens before the deadline.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("connection not closed by the peer: %v", err)
	}
}

// ---- tests ----

// Four nodes, two chains (one registered before Start, one after, with a
// different node numbering), all pairs in both directions.
func TestExchangeAllPairs(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	alpha := map[uint64]string{1: "a", 2: "b", 3: "c", 4: "d"}
	beta := map[uint64]string{1: "d", 2: "c", 3: "b", 4: "a"}
	num := func(m map[uint64]string, id string) uint64 {
		for k, v := range m {
			if v == id {
				return k
			}
		}
		t.Fatalf("no %s", id)
		return 0
	}
	recs := map[string]map[string]*recorder{}
	nets := map[string]map[string]consensus.Network{}
	var mu sync.Mutex
	reg := func(id, chainID string, members map[uint64]string, tr *Transport) {
		r := &recorder{}
		n := tr.Chain(chainID, members, num(members, id), r)
		mu.Lock()
		defer mu.Unlock()
		if recs[id] == nil {
			recs[id], nets[id] = map[string]*recorder{}, map[string]consensus.Network{}
		}
		recs[id][chainID], nets[id][chainID] = r, n
	}
	c := startCluster(t, names, func(id string, tr *Transport) { reg(id, "alpha", alpha, tr) })
	for _, id := range names {
		reg(id, "beta", beta, c.trs[id])
	}
	waitFor(t, "all connected", c.allConnected)

	big := bytes.Repeat([]byte{0xab}, 1<<20)
	for _, from := range names {
		for chainID, members := range map[string]map[uint64]string{"alpha": alpha, "beta": beta} {
			n := nets[from][chainID]
			n.Send(num(members, from), []byte("to self")) // no-op
			n.Send(99, []byte("to nobody"))               // dropped
			for _, to := range names {
				if to != from {
					n.Send(num(members, to), fmt.Appendf(nil, "%s:%s->%s", chainID, from, to))
				}
			}
		}
	}
	nets["a"]["alpha"].Send(4, big)
	nets["d"]["beta"].Send(4, big) // d is 1, a is 4 on beta

	for _, to := range names {
		for chainID, members := range map[string]map[uint64]string{"alpha": alpha, "beta": beta} {
			r := recs[to][chainID]
			for _, from := range names {
				if from == to {
					continue
				}
				want := fmt.Sprintf("%s:%s->%s", chainID, from, to)
				waitFor(t, want, func() bool { return r.has(num(members, from), want) })
			}
		}
	}
	waitFor(t, "big messages", func() bool {
		return recs["d"]["alpha"].has(1, string(big)) && recs["a"]["beta"].has(1, string(big))
	})
	for _, to := range names {
		for chainID, r := range recs[to] {
			for _, m := range r.all() {
				if strings.Contains(m.msg, "self") || strings.Contains(m.msg, "nobody") {
					t.Errorf("%s/%s got %q", to, chainID, m.msg)
				}
			}
		}
	}
	// Exactly one connection per pair.
	for id, tr := range c.trs {
		for pid, s := range tr.Stats() {
			if s.Connects != 1 || !s.Connected {
				t.Errorf("%s->%s: %+v", id, pid, s)
			}
		}
	}
}

func TestDropUnregisteredChainAndNonMember(t *testing.T) {
	ra := &recorder{}
	c := startCluster(t, []string{"a", "b", "c"}, func(id string, tr *Transport) {
		switch id {
		case "a": // c is not a member of x on a
			tr.Chain("x", map[uint64]string{1: "a", 2: "b"}, 1, ra)
		}
	})
	nb := c.trs["b"].Chain("x", map[uint64]string{1: "a", 2: "b"}, 2, &recorder{})
	ncx := c.trs["c"].Chain("x", map[uint64]string{1: "a", 2: "b", 3: "c"}, 3, &recorder{})
	ncy := c.trs["c"].Chain("y", map[uint64]string{1: "a", 2: "c"}, 2, &recorder{})
	waitFor(t, "all connected", c.allConnected)

	ncx.Send(1, []byte("from non-member"))
	ncy.Send(1, []byte("unregistered chain"))
	nb.Send(1, []byte("from b"))
	waitFor(t, "c's frames dropped", func() bool {
		s := c.trs["a"].Stats()["c"]
		return s.Received == 2 && s.DroppedInbound == 2
	})
	waitFor(t, "b's frame delivered", func() bool { return ra.has(2, "from b") })
	if got := ra.all(); len(got) != 1 {
		t.Fatalf("a received %v", got)
	}
	if s := c.trs["a"].Stats()["c"]; !s.Connected {
		t.Fatal("dropping frames must not close the connection")
	}

	// After RemoveChain, frames for x are dropped too.
	c.trs["a"].RemoveChain("x")
	nb.Send(1, []byte("after removal"))
	waitFor(t, "frame for removed chain dropped", func() bool { return c.trs["a"].Stats()["b"].DroppedInbound == 1 })
	if ra.count() != 1 {
		t.Fatal("removed chain still delivers")
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	r := &recorder{}
	tb := startTransport(t, testConfig(b, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}}), func(tr *Transport) {
		tr.Chain("x", map[uint64]string{1: "a", 2: "b"}, 2, r)
	})
	tc, err := rawPeer(t, tb.Addr().String(), "a", "a", a.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write(encodeFrame("x", []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "valid frame", func() bool { return r.has(1, "hello") })

	// A header announcing one byte more than allowed: closed before the body.
	hdr := binary.BigEndian.AppendUint32(nil, maxFrameBody+1)
	if _, err := tc.Write(hdr); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, tc)
	waitFor(t, "b sees a disconnected", func() bool { return !tb.Stats()["a"].Connected })

	// A malformed chain ID closes the connection too.
	tc, err = rawPeer(t, tb.Addr().String(), "a", "a", a.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write(encodeFrame("Bad/ID", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, tc)
}

func TestUnknownKeyRefused(t *testing.T) {
	a, a2, b, c := newIdent(t, "a"), newIdent(t, "a2"), newIdent(t, "b"), newIdent(t, "c")
	rogue := newIdent(t, "a") // claims to be a, with another key
	r := &recorder{}
	peersB := []Peer{{ID: "a", PubKey: a.pub}, {ID: "a2", PubKey: a2.pub}, {ID: "c", Addr: "127.0.0.1:1", PubKey: c.pub}}
	tb := startTransport(t, testConfig(b, "127.0.0.1:0", peersB), func(tr *Transport) {
		tr.Chain("x", map[uint64]string{1: "a", 2: "b", 3: "c"}, 2, r)
	})
	addr := tb.Addr().String()

	// Server side: an unknown key, claiming a's ID.
	if tc, err := rawPeer(t, addr, "a", "a", rogue.key); err == nil {
		tc.Write(encodeFrame("x", []byte("forged")))
		expectClosed(t, tc)
		t.Error("unknown key accepted")
	}
	// A configured peer's key (c's) presenting a's ID in its certificate.
	if _, err := rawPeer(t, addr, "a", "a", c.key); err == nil {
		t.Error("c's key with a's certificate ID accepted")
	}
	// a2's key and certificate, but a hello naming a.
	if _, err := rawPeer(t, addr, "a2", "a", a2.key); err == nil {
		t.Error("a2's key with a's hello ID accepted")
	}
	// c's genuine identity, but c has the greater ID: b dials c, not the reverse.
	if _, err := rawPeer(t, addr, "c", "c", c.key); err == nil {
		t.Error("connection in the wrong direction accepted")
	}
	waitFor(t, "b to count 4 handshake failures", func() bool { return tb.handshakeFailures.Load() == 4 })

	// The same through Transports: a rogue "a" dials b and is refused.
	rt := startTransport(t, testConfig(rogue, "127.0.0.1:0", []Peer{{ID: "b", Addr: addr, PubKey: b.pub}}), nil)
	waitFor(t, "rogue refused repeatedly", func() bool { return tb.handshakeFailures.Load() >= 6 })
	rt.Chain("x", map[uint64]string{1: "a", 2: "b"}, 1, &recorder{}).Send(2, []byte("forged"))

	// Client side: a dials "b" at an address where a transport with b's ID
	// but another key listens; a refuses it.
	fakeB := newIdent(t, "b")
	fb := startTransport(t, testConfig(fakeB, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}}), nil)
	ta := startTransport(t, testConfig(a, "127.0.0.1:0", []Peer{{ID: "b", Addr: fb.Addr().String(), PubKey: b.pub}}), nil)
	waitFor(t, "a refuses fake b", func() bool { return ta.handshakeFailures.Load() >= 2 && fb.handshakeFailures.Load() >= 2 })

	if s := tb.Stats()["a"]; s.Connected || s.Connects != 0 || s.Received != 0 {
		t.Errorf("b accepted a forged a: %+v", s)
	}
	if s := rt.Stats()["b"]; s.Connected || s.Connects != 0 {
		t.Errorf("rogue connected: %+v", s)
	}
	if s := ta.Stats()["b"]; s.Connected || s.Connects != 0 {
		t.Errorf("a connected to fake b: %+v", s)
	}
	if s := fb.Stats()["a"]; s.Connected || s.Connects != 0 {
		t.Errorf("fake b accepted a: %+v", s)
	}
	if r.count() != 0 {
		t.Errorf("forged messages delivered: %v", r.all())
	}

	// Direct check of the client-side pinning.
	if _, err := ta.verifyPeer([]*x509.Certificate{fakeCert(t, "b", fakeB.key)}, ta.peers["b"]); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("verifyPeer(fake b) = %v", err)
	}
}

func TestDuplicateConnectionReplacesOld(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	r := &recorder{}
	tb := startTransport(t, testConfig(b, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}}), func(tr *Transport) {
		tr.Chain("x", map[uint64]string{1: "a", 2: "b"}, 2, r)
	})
	first, err := rawPeer(t, tb.Addr().String(), "a", "a", a.key)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first connected", func() bool { return tb.Stats()["a"].Connects == 1 })
	second, err := rawPeer(t, tb.Addr().String(), "a", "a", a.key)
	if err != nil {
		t.Fatal(err)
	}
	expectClosed(t, first)
	waitFor(t, "second connected", func() bool { s := tb.Stats()["a"]; return s.Connects == 2 && s.Connected })
	if _, err := second.Write(encodeFrame("x", []byte("via second"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery via the new connection", func() bool { return r.has(1, "via second") })
}

func TestRestartedPeerReconnects(t *testing.T) {
	members := map[uint64]string{1: "a", 2: "b", 3: "c"}
	recs := map[string]*recorder{}
	nets := map[string]consensus.Network{}
	var mu sync.Mutex
	register := func(id string, self uint64, tr *Transport) {
		r := &recorder{}
		n := tr.Chain("x", members, self, r)
		mu.Lock()
		recs[id], nets[id] = r, n
		mu.Unlock()
	}
	c := startCluster(t, []string{"a", "b", "c"}, func(id string, tr *Transport) {
		register(id, uint64(id[0]-'a'+1), tr)
	})
	waitFor(t, "all connected", c.allConnected)
	// exchange delivers a fresh message in both directions between b and
	// each other node, resending until it arrives.
	seq := 0
	exchange := func() {
		t.Helper()
		for _, o := range []string{"a", "c"} {
			k := uint64(o[0] - 'a' + 1)
			seq++
			m1, m2 := fmt.Sprintf("b->%s %d", o, seq), fmt.Sprintf("%s->b %d", o, seq)
			waitFor(t, m1, func() bool {
				nets["b"].Send(k, []byte(m1))
				nets[o].Send(2, []byte(m2))
				return recs[o].has(2, m1) && recs["b"].has(k, m2)
			})
		}
	}
	exchange()

	// Stop b; a (dialler) and c (acceptor) notice.
	bAddr := c.trs["b"].Addr().String()
	if err := c.trs["b"].Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's peers see it gone", func() bool {
		return !c.trs["a"].Stats()["b"].Connected && !c.trs["c"].Stats()["b"].Connected
	})

	// A new transport with b's key, at b's address; chain registered after Start.
	tb := startTransport(t, testConfig(c.ident("b"), bAddr, c.peers(c.addrs)), nil)
	c.trs["b"] = tb
	register("b", 2, tb)
	waitFor(t, "b reconnected", c.allConnected)
	exchange()
	if n := c.trs["a"].Stats()["b"].Connects; n != 2 {
		t.Errorf("a connected to b %d times, want 2", n)
	}
}

// A Receiver that blocks stalls neither Send, the connection, nor other
// chains; its inbound queue stays bounded and drops are counted.
func TestStalledReceiver(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	slow := &recorder{block: make(chan struct{})}
	fast := &recorder{}
	cfgB := testConfig(b, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}})
	cfgB.QueueSize = 8
	var slowReg *chainReg
	tb := startTransport(t, cfgB, func(tr *Transport) {
		tr.Chain("slow", map[uint64]string{1: "a", 2: "b"}, 2, slow)
		tr.Chain("fast", map[uint64]string{1: "a", 2: "b"}, 2, fast)
		slowReg = tr.chains["slow"]
	})
	defer close(slow.block) // before tb.Close (cleanup) waits for Receive
	cfgA := testConfig(a, "127.0.0.1:0", []Peer{{ID: "b", Addr: tb.Addr().String(), PubKey: b.pub}})
	cfgA.QueueSize = 8
	ta := startTransport(t, cfgA, nil)
	ns := ta.Chain("slow", map[uint64]string{1: "a", 2: "b"}, 1, &recorder{})
	nf := ta.Chain("fast", map[uint64]string{1: "a", 2: "b"}, 1, &recorder{})

	msg := make([]byte, 1024)
	waitFor(t, "b drops inbound for the stalled chain", func() bool {
		for range 16 {
			ns.Send(2, msg) // never blocks
		}
		return tb.Stats()["a"].DroppedInbound > 0
	})
	if n := len(slowReg.in); n > cfgB.QueueSize {
		t.Fatalf("inbound queue holds %d > %d", n, cfgB.QueueSize)
	}
	i := 0
	waitFor(t, "fast chain still delivers", func() bool {
		i++
		nf.Send(2, fmt.Appendf(nil, "fast %d", i))
		for range 16 {
			ns.Send(2, msg) // keep the slow chain flooded
		}
		return fast.count() >= 5
	})
	if s := tb.Stats()["a"]; !s.Connected || s.Connects != 1 {
		t.Fatalf("connection suffered: %+v", s)
	}
	if n := len(slowReg.in); n > cfgB.QueueSize {
		t.Fatalf("inbound queue holds %d > %d", n, cfgB.QueueSize)
	}
	if n := slowReg.inBytes.Load(); n > int64((cfgB.QueueSize+1)*len(msg)) {
		t.Fatalf("inbound queue holds %d bytes", n)
	}
}

// A peer that stops reading: the writer blocks on TCP, the outbound queue
// fills, and Send drops instead of blocking or growing memory; when the peer
// reads again, traffic resumes on the same connection.
func TestStalledPeerSendDoesNotBlock(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	cfgB := testConfig(b, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}})
	cfgB.QueueSize = 16
	tb := startTransport(t, cfgB, nil)
	n := tb.Chain("x", map[uint64]string{1: "a", 2: "b"}, 2, &recorder{})
	tc, err := rawPeer(t, tb.Addr().String(), "a", "a", a.key) // does not read (yet)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", func() bool { return tb.Stats()["a"].Connected })
	msg := make([]byte, 64<<10)
	var lastSent uint64
	still := 0
	waitFor(t, "writer blocked on TCP with the queue full", func() bool {
		for range 2 * cfgB.QueueSize {
			n.Send(1, msg)
		}
		s := tb.Stats()["a"]
		if s.Sent != lastSent {
			lastSent, still = s.Sent, 0
			return false
		}
		still++
		return s.Sent > 0 && s.Dropped > 0 && still >= 25
	})
	start := time.Now()
	for range 1000 {
		n.Send(1, msg)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("1000 Sends to a stalled peer took %v", d)
	}
	p := tb.peers["a"]
	// Bytes may include the message the writer is handing to TCP.
	if len(p.out) > cfgB.QueueSize || p.outBytes.Load() > int64((cfgB.QueueSize+1)*len(msg)) {
		t.Fatalf("queue holds %d messages, %d bytes", len(p.out), p.outBytes.Load())
	}
	s := tb.Stats()["a"]
	t.Logf("stalled after %d frames (%d MiB); stats %+v", s.Sent, s.Sent*uint64(len(msg))>>20, s)

	// The peer reads again: the backlog drains on the same connection.
	go io.Copy(io.Discard, tc)
	waitFor(t, "traffic resumes", func() bool {
		s2 := tb.Stats()["a"]
		return s2.Sent >= s.Sent+uint64(cfgB.QueueSize) && s2.Connects == 1
	})
}

// Queue bounds, deterministically: with no connection nothing drains.
func TestQueueBounds(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	cfg := testConfig(a, "127.0.0.1:0", []Peer{{ID: "b", Addr: "127.0.0.1:1", PubKey: b.pub}})
	cfg.QueueSize = 10
	cfg.QueueBytes = 1000
	tr, err := New(cfg) // not started: nothing drains
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	n := tr.Chain("x", map[uint64]string{1: "a", 2: "b"}, 1, &recorder{})
	for range 100 {
		n.Send(2, make([]byte, 10))
	}
	if s := tr.Stats()["b"]; s.Dropped != 90 || len(tr.peers["b"].out) != 10 {
		t.Fatalf("count bound: %+v, queued %d", s, len(tr.peers["b"].out))
	}
	for len(tr.peers["b"].out) > 0 {
		<-tr.peers["b"].out
	}
	tr.peers["b"].outBytes.Store(0)
	for range 20 {
		n.Send(2, make([]byte, 300))
	}
	if q := len(tr.peers["b"].out); q != 3 {
		t.Fatalf("byte bound: %d queued", q)
	}
	// An empty queue admits one message of any allowed size.
	for len(tr.peers["b"].out) > 0 {
		<-tr.peers["b"].out
	}
	tr.peers["b"].outBytes.Store(0)
	n.Send(2, make([]byte, consensus.MaxMessageSize))
	n.Send(2, make([]byte, consensus.MaxMessageSize+1)) // too large: dropped
	if q := len(tr.peers["b"].out); q != 1 {
		t.Fatalf("max message: %d queued", q)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	a, b := newIdent(t, "a"), newIdent(t, "b")
	good := testConfig(a, "127.0.0.1:0", []Peer{{ID: "a", PubKey: a.pub}, {ID: "b", Addr: "x:1", PubKey: b.pub}})
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no id":          func(c *Config) { c.ID = "" },
		"bad key":        func(c *Config) { c.Key = c.Key[:10] },
		"no listen":      func(c *Config) { c.Listen = "" },
		"dup peer":       func(c *Config) { c.Peers = append(c.Peers, c.Peers[1]) },
		"shared key":     func(c *Config) { c.Peers = append(c.Peers, Peer{ID: "c", PubKey: b.pub}) },
		"self wrong key": func(c *Config) { c.Peers[0].PubKey = b.pub },
		"no dial addr":   func(c *Config) { c.Peers[1].Addr = "" },
		"bad peer key":   func(c *Config) { c.Peers[1].PubKey = b.pub[:5] },
		"backoff":        func(c *Config) { c.DialBackoffMin, c.DialBackoffMax = time.Second, time.Millisecond },
	} {
		cfg := good
		cfg.Peers = slices.Clone(good.Peers)
		mut(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	payloads := [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 200<<10)}
	for _, p := range payloads {
		buf.Write(encodeFrame("chain-1", p))
	}
	for _, p := range payloads {
		id, got, err := readFrame(&buf)
		if err != nil || id != "chain-1" || !bytes.Equal(got, p) {
			t.Fatalf("readFrame = %q, %d bytes, %v", id, len(got), err)
		}
	}
	if _, _, err := readFrame(&buf); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	for _, bad := range [][]byte{
		binary.BigEndian.AppendUint32(nil, maxFrameBody+1),
		{0, 0, 0, 0},
		{0, 0, 0, 3, 5, 'a', 'b'},
		append([]byte{0, 0, 0, 70, 65}, bytes.Repeat([]byte{'a'}, 65)...),
		{0, 0, 0, 2, 1, 'A'},
		{0, 0, 0, 9, 1, 'a', 1},
	} {
		if _, _, err := readFrame(bytes.NewReader(bad)); err == nil || err == io.EOF {
			t.Errorf("readFrame(%x) = %v", bad[:min(len(bad), 8)], err)
		}
	}
}

func FuzzFrameDecode(f *testing.F) {
	f.Add(encodeFrame("x", []byte("payload")))
	f.Add(encodeFrame("a.b-c_d", nil))
	f.Add(append(encodeFrame("x", []byte("1")), encodeFrame("y", []byte("2"))...))
	f.Add(binary.BigEndian.AppendUint32(nil, maxFrameBody+1))
	f.Add(binary.BigEndian.AppendUint32(nil, maxFrameBody))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 2, 1, 'A'})
	f.Add([]byte{0, 0, 0, 66, 65, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			before := len(data) - r.Len()
			id, payload, err := readFrame(r)
			if err != nil {
				return
			}
			if len(id) == 0 || len(id) > MaxChainIDLen || len(payload) > consensus.MaxMessageSize {
				t.Fatalf("accepted chain %q, %d-byte payload", id, len(payload))
			}
			consumed := data[before : len(data)-r.Len()]
			if !bytes.Equal(encodeFrame(id, payload), consumed) {
				t.Fatalf("re-encoding differs from the %d bytes consumed", len(consumed))
			}
		}
	})
}
