// Package p2p is the node-to-node transport of a federation: one mutually
// authenticated TLS 1.3 connection per pair of nodes, multiplexing the
// consensus messages of every chain the two nodes share.
//
// Nodes are known in advance (Peer: ID, address, Ed25519 key). Each node
// makes a self-signed certificate from its node key at start; a handshake is
// accepted only if the other side's certificate key is the pinned key of a
// configured peer (the dialled one, when dialling) and its CN that peer's
// ID, and the hello that follows names the same ID. Of each pair, the node
// with the lexicographically smaller ID dials and the other accepts; dialling
// retries with jittered exponential back-off, and an accepted connection from
// a peer replaces its previous one (a restarted peer reconnects at once).
//
// Chain returns a consensus.Network per chain. Send never blocks: each peer
// has a bounded outbound queue (messages and bytes) drained by the
// connection's writer, and a full queue drops the message. Inbound frames are
// read by one goroutine per connection and handed to the chain's bounded
// inbound queue, drained by one goroutine per chain calling its Receiver, so
// a slow Receiver loses its own messages but stalls neither the connection
// nor other chains.
package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
)

// ProtocolVersion is sent in the hello; peers must agree on it. It covers
// every message format carried over a connection (engine, member, block
// sync, state sync, forwarded transactions): a change to any of them bumps
// it, so nodes of different formats refuse each other with a clear error
// instead of misreading messages. 2: block sync's max and the Raft
// transport's incarnation (7 Dec 2026).
const ProtocolVersion = 2

// Defaults and fixed timeouts.
const (
	DefaultQueueSize      = 1024
	DefaultQueueBytes     = 64 << 20
	DefaultDialBackoffMin = 100 * time.Millisecond
	DefaultDialBackoffMax = 10 * time.Second

	// HandshakeTimeout bounds TCP connect, the TLS handshake and the hello.
	HandshakeTimeout = 5 * time.Second
	// tcpKeepAlive is the TCP keep-alive period of every connection; a
	// silently dead peer is detected by the kernel and the read fails.
	tcpKeepAlive = 15 * time.Second
	// writeTimeoutBase (+1 s per MiB) bounds writing one frame; a peer that
	// stops reading gets its connection closed.
	writeTimeoutBase = 10 * time.Second
	// maxPendingHandshakes bounds concurrent inbound handshakes, so
	// unauthenticated connections cannot pile up goroutines.
	maxPendingHandshakes = 64
	maxNodeIDLen         = 255
	ioBufferSize         = 64 << 10
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("p2p: transport closed")

// Peer is another node of the federation.
type Peer struct {
	ID     string
	Addr   string // host:port; needed for peers this node dials (ID greater than ours)
	PubKey ed25519.PublicKey
}

// Config of a Transport.
type Config struct {
	ID     string             // this node's ID
	Key    ed25519.PrivateKey // this node's key
	Listen string             // listen address, e.g. "0.0.0.0:7000" or "127.0.0.1:0"
	// Peers are the other nodes. An entry for this node itself is allowed
	// (a shared federation list) and must carry this node's public key.
	Peers  []Peer
	Logger *slog.Logger
	// QueueSize bounds, in messages, each peer's outbound queue and each
	// chain's inbound queue (default DefaultQueueSize).
	QueueSize int
	// QueueBytes bounds the same queues in payload bytes (default
	// DefaultQueueBytes); an empty queue always admits one message, so a
	// message of MaxMessageSize is never refused for size alone.
	QueueBytes int64
	// DialBackoffMin and DialBackoffMax bound the jittered exponential
	// back-off between dial attempts (defaults 100 ms and 10 s).
	DialBackoffMin, DialBackoffMax time.Duration
}

// PeerStats are counters for one peer, since New.
type PeerStats struct {
	Connected bool
	Connects  uint64 // connections established
	Sent      uint64 // frames written to the connection
	Received  uint64 // frames read from the connection
	// Dropped counts outbound messages discarded: queue full, over
	// MaxMessageSize, or lost when the connection failed while writing.
	Dropped uint64
	// DroppedInbound counts inbound frames discarded: unregistered chain,
	// sender not a member of the chain, or the chain's inbound queue full.
	DroppedInbound uint64
}

// Transport connects this node to its peers. It is safe for concurrent use.
type Transport struct {
	cfg    Config
	log    *slog.Logger
	cert   tls.Certificate
	srvTLS *tls.Config
	// pmu guards peers and byKey, which grow when AddPeer adds a node.
	pmu   sync.RWMutex
	peers map[string]*peer // by ID, excluding this node
	byKey map[string]*peer // by string(public key)
	added int              // peers added after New

	mu      sync.RWMutex
	chains  map[string]*chainReg
	started bool
	closed  bool
	ln      net.Listener
	ctx     context.Context // set by Start; cancelled by Close
	cancel  context.CancelFunc

	done  chan struct{} // closed by Close
	wg    sync.WaitGroup
	hsSem chan struct{}

	handshakeFailures atomic.Uint64 // failed TLS handshakes or hellos (either side)
}

// peer is a configured peer and its connection state.
type peer struct {
	Peer
	dial bool // this node dials it (our ID is smaller)

	out      chan outMsg // bounded outbound queue, survives reconnections
	outBytes atomic.Int64

	sent, received, dropped, droppedIn, connects atomic.Uint64

	connMu sync.Mutex // serialises installing connections
	mu     sync.Mutex
	cur    *conn
}

type outMsg struct {
	chain string
	msg   []byte
}

// New validates cfg and makes the node certificate. It does no I/O.
func New(cfg Config) (*Transport, error) {
	if !validNodeID(cfg.ID) {
		return nil, fmt.Errorf("p2p: invalid node ID %q", cfg.ID)
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("p2p: node key must be an Ed25519 private key")
	}
	if cfg.Listen == "" {
		return nil, errors.New("p2p: no listen address")
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.DialBackoffMin == 0 {
		cfg.DialBackoffMin = DefaultDialBackoffMin
	}
	if cfg.DialBackoffMax == 0 {
		cfg.DialBackoffMax = DefaultDialBackoffMax
	}
	if cfg.QueueSize < 0 || cfg.QueueBytes < 0 || cfg.DialBackoffMin < 0 || cfg.DialBackoffMax < cfg.DialBackoffMin {
		return nil, errors.New("p2p: invalid queue or back-off bounds")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	self := cfg.Key.Public().(ed25519.PublicKey)
	t := &Transport{
		cfg:    cfg,
		log:    cfg.Logger.With("node", cfg.ID),
		peers:  make(map[string]*peer),
		byKey:  make(map[string]*peer),
		chains: make(map[string]*chainReg),
		done:   make(chan struct{}),
		hsSem:  make(chan struct{}, maxPendingHandshakes),
	}
	for _, pc := range cfg.Peers {
		if pc.ID == cfg.ID {
			if !self.Equal(pc.PubKey) {
				return nil, fmt.Errorf("p2p: peer entry for this node %q has another key", pc.ID)
			}
			continue
		}
		if !validNodeID(pc.ID) {
			return nil, fmt.Errorf("p2p: invalid peer ID %q", pc.ID)
		}
		if len(pc.PubKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("p2p: peer %q: key must be an Ed25519 public key", pc.ID)
		}
		if t.peers[pc.ID] != nil {
			return nil, fmt.Errorf("p2p: duplicate peer %q", pc.ID)
		}
		if self.Equal(pc.PubKey) || t.byKey[string(pc.PubKey)] != nil {
			return nil, fmt.Errorf("p2p: peer %q: key shared with another node", pc.ID)
		}
		p := &peer{
			Peer: Peer{ID: pc.ID, Addr: pc.Addr, PubKey: append(ed25519.PublicKey(nil), pc.PubKey...)},
			dial: cfg.ID < pc.ID,
			out:  make(chan outMsg, cfg.QueueSize),
		}
		if p.dial && p.Addr == "" {
			return nil, fmt.Errorf("p2p: peer %q: no address to dial", pc.ID)
		}
		t.peers[p.ID] = p
		t.byKey[string(p.PubKey)] = p
	}
	cert, err := selfSigned(cfg.ID, cfg.Key, time.Now())
	if err != nil {
		return nil, err
	}
	t.cert = cert
	t.srvTLS = t.serverTLS()
	return t, nil
}

func validNodeID(id string) bool {
	return id != "" && len(id) <= maxNodeIDLen && utf8.ValidString(id)
}

// Start listens and starts dialling the peers this node dials. It returns
// once the listener is up. Cancelling ctx stops all network activity, as
// Close does (Close is still needed to release everything).
func (t *Transport) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.started {
		return errors.New("p2p: already started")
	}
	lc := net.ListenConfig{KeepAlive: tcpKeepAlive}
	ln, err := lc.Listen(ctx, "tcp", t.cfg.Listen)
	if err != nil {
		return fmt.Errorf("p2p: listen: %w", err)
	}
	t.started = true
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(ctx)
	context.AfterFunc(t.ctx, func() { ln.Close() })
	t.wg.Add(1)
	go t.acceptLoop(ln)
	peers := t.peerList()
	for _, p := range peers {
		if p.dial {
			t.wg.Add(1)
			go t.dialLoop(p)
		}
	}
	t.log.Info("p2p listening", "addr", ln.Addr().String(), "peers", len(peers))
	return nil
}

// Addr returns the listen address, or nil before Start.
func (t *Transport) Addr() net.Addr {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// Close stops listening, dialling and delivering, closes every connection
// and waits for all goroutines (including Receive calls in progress) to
// finish. Queued messages are discarded.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	t.closed = true
	close(t.done)
	if t.cancel != nil {
		t.cancel()
	}
	var err error
	if t.ln != nil {
		if e := t.ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	t.mu.Unlock()
	for _, p := range t.peerList() {
		p.connMu.Lock()
		p.mu.Lock()
		c := p.cur
		p.mu.Unlock()
		if c != nil {
			c.close()
		}
		p.connMu.Unlock()
	}
	t.wg.Wait()
	return err
}

// Stats returns counters per peer ID.
func (t *Transport) Stats() map[string]PeerStats {
	peers := t.peerList()
	m := make(map[string]PeerStats, len(peers))
	for _, p := range peers {
		id := p.ID
		p.mu.Lock()
		connected := p.cur != nil
		p.mu.Unlock()
		m[id] = PeerStats{
			Connected:      connected,
			Connects:       p.connects.Load(),
			Sent:           p.sent.Load(),
			Received:       p.received.Load(),
			Dropped:        p.dropped.Load(),
			DroppedInbound: p.droppedIn.Load(),
		}
	}
	return m
}

// enqueue adds m to p's outbound queue unless it is full (in messages or
// bytes), in which case m is dropped and counted.
func (p *peer) enqueue(limit int64, m outMsg) bool {
	n := int64(len(m.msg))
	if nb := p.outBytes.Add(n); nb > limit && nb != n {
		p.outBytes.Add(-n)
		p.dropped.Add(1)
		return false
	}
	select {
	case p.out <- m:
		return true
	default:
		p.outBytes.Add(-n)
		p.dropped.Add(1)
		return false
	}
}

// acceptLoop accepts inbound connections until the listener closes.
func (t *Transport) acceptLoop(ln net.Listener) {
	defer t.wg.Done()
	delay := 5 * time.Millisecond
	for {
		raw, err := ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("p2p accept failed", "err", err)
			if !t.sleep(delay) {
				return
			}
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		select {
		case t.hsSem <- struct{}{}:
		default:
			t.log.Warn("p2p too many pending handshakes; refusing", "remote", raw.RemoteAddr().String())
			raw.Close()
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() { <-t.hsSem }()
			t.accept(raw)
		}()
	}
}

// accept authenticates an inbound connection and installs it.
func (t *Transport) accept(raw net.Conn) {
	tc := tls.Server(raw, t.srvTLS)
	p, err := t.handshake(raw, tc, nil)
	if err != nil {
		t.handshakeFailures.Add(1)
		t.log.Warn("p2p inbound handshake refused", "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	t.install(p, tc, raw)
}

// dialLoop keeps a connection to p (a peer with a greater ID) up.
func (t *Transport) dialLoop(p *peer) {
	defer t.wg.Done()
	backoff := t.cfg.DialBackoffMin
	for t.ctx.Err() == nil {
		c, err := t.dial(p)
		if err == nil && c == nil {
			return // closing
		}
		if err == nil {
			start := time.Now()
			select {
			case <-c.done:
			case <-t.ctx.Done():
				return
			}
			if time.Since(start) >= t.cfg.DialBackoffMax {
				backoff = t.cfg.DialBackoffMin // it was healthy: start over
			}
		} else {
			t.log.Debug("p2p dial failed", "peer", p.ID, "addr", p.Addr, "retry", backoff, "err", err)
		}
		if !t.sleep(jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, t.cfg.DialBackoffMax)
	}
}

// jitter returns a duration uniformly in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until the transport stops; it reports whether to go on.
func (t *Transport) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// dial connects to p, authenticates it and installs the connection. It
// returns (nil, nil) if the transport closed meanwhile.
func (t *Transport) dial(p *peer) (*conn, error) {
	d := net.Dialer{Timeout: HandshakeTimeout, KeepAlive: tcpKeepAlive}
	raw, err := d.DialContext(t.ctx, "tcp", p.Addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, t.clientTLS(p))
	if _, err := t.handshake(raw, tc, p); err != nil {
		t.handshakeFailures.Add(1)
		t.log.Warn("p2p outbound handshake refused", "peer", p.ID, "addr", p.Addr, "err", err)
		raw.Close()
		return nil, err
	}
	return t.install(p, tc, raw), nil
}

// handshake runs the TLS handshake and the hello exchange under
// HandshakeTimeout. expect is the dialled peer (client side) or nil (server
// side). It returns the authenticated peer.
func (t *Transport) handshake(raw net.Conn, tc *tls.Conn, expect *peer) (*peer, error) {
	stop := context.AfterFunc(t.ctx, func() { raw.Close() })
	defer stop()
	if err := raw.SetDeadline(time.Now().Add(HandshakeTimeout)); err != nil {
		return nil, err
	}
	if err := tc.HandshakeContext(t.ctx); err != nil {
		return nil, err
	}
	cs := tc.ConnectionState()
	if cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != alpn {
		return nil, fmt.Errorf("p2p: negotiated version %#x protocol %q", cs.Version, cs.NegotiatedProtocol)
	}
	p, err := t.verifyPeer(cs.PeerCertificates, expect) // already checked in VerifyConnection
	if err != nil {
		return nil, err
	}
	if expect == nil && p.dial {
		// We dial this peer; it must not dial us (one connection per pair).
		return nil, fmt.Errorf("p2p: peer %q dialled us but has the greater ID", p.ID)
	}
	hello := appendHello(nil, t.cfg.ID)
	var version uint16
	var id string
	if expect != nil { // dialler speaks first
		if _, err = tc.Write(hello); err == nil {
			version, id, err = readHello(tc)
		}
	} else {
		if version, id, err = readHello(tc); err == nil && id == p.ID && version == ProtocolVersion {
			_, err = tc.Write(hello)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("p2p: hello: %w", err)
	}
	if id != p.ID {
		return nil, fmt.Errorf("%w: hello names %q, key is %q's", ErrPeerIdentity, id, p.ID)
	}
	if version != ProtocolVersion {
		return nil, fmt.Errorf("p2p: peer %q speaks protocol version %d, want %d", p.ID, version, ProtocolVersion)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return p, nil
}

// Chain registers chainID's Receiver and returns the chain's Network.
// members maps node numbers (1-based, the chain's validator order) to peer
// IDs and self is this node's number (0 if it is not a member). Inbound
// frames for chainID from the peer members[k] are delivered to r.Receive(k,
// payload), one at a time from a goroutine of the chain's; frames from
// non-members are dropped. Registering a chain ID again replaces the previous
// registration (whose Network then drops everything). Chain may be called
// before or after Start. It panics if chainID is not a valid chain name.
//
// Send(to, msg) never blocks; it drops the message when to is self, unknown
// or not a configured peer, or when the peer's queue is full. The transport
// keeps msg until it is written: callers must not modify it after Send.
func (t *Transport) Chain(chainID string, members map[uint64]string, self uint64, r consensus.Receiver) consensus.Network {
	if !chain.ValidName(chainID) {
		panic(fmt.Sprintf("p2p: invalid chain ID %q", chainID))
	}
	n := &chainNet{t: t, id: chainID, self: self, to: make(map[uint64]*peer)}
	reg := &chainReg{
		net:    n,
		r:      r,
		byPeer: make(map[string]uint64),
		in:     make(chan inMsg, t.cfg.QueueSize),
		stop:   make(chan struct{}),
	}
	for k, id := range members {
		switch {
		case k == 0:
			continue
		case k == self || id == t.cfg.ID:
			if k != self || id != t.cfg.ID {
				t.log.Warn("p2p chain membership names this node inconsistently", "chain", chainID, "number", k, "id", id, "self", self)
			}
			continue
		}
		p := t.peer(id)
		if p == nil {
			t.log.Warn("p2p chain member is not a configured peer", "chain", chainID, "number", k, "id", id)
			continue
		}
		n.to[k] = p
		if prev, dup := reg.byPeer[id]; !dup || k < prev {
			reg.byPeer[id] = k // a peer listed twice receives as its lowest number
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		n.removed.Store(true)
		return n
	}
	old := t.chains[chainID]
	t.chains[chainID] = reg
	t.wg.Add(1)
	go reg.deliver(t)
	t.mu.Unlock()
	if old != nil {
		old.remove()
	}
	return n
}

// RemoveChain unregisters chainID: its inbound frames are dropped from now
// on and its Network drops everything.
func (t *Transport) RemoveChain(chainID string) {
	t.mu.Lock()
	reg := t.chains[chainID]
	delete(t.chains, chainID)
	t.mu.Unlock()
	if reg != nil {
		reg.remove()
	}
}

// chainNet is one chain's consensus.Network.
type chainNet struct {
	t       *Transport
	id      string
	self    uint64
	to      map[uint64]*peer // immutable after Chain
	removed atomic.Bool
}

// Send implements consensus.Network.
func (n *chainNet) Send(to uint64, msg []byte) {
	if to == n.self {
		return
	}
	p := n.to[to]
	if p == nil {
		return
	}
	if n.removed.Load() || len(msg) > consensus.MaxMessageSize {
		p.dropped.Add(1)
		return
	}
	select {
	case <-n.t.done:
		return
	default:
	}
	p.enqueue(n.t.cfg.QueueBytes, outMsg{chain: n.id, msg: msg})
}

// chainReg is a registered chain's inbound side.
type chainReg struct {
	net     *chainNet
	r       consensus.Receiver
	byPeer  map[string]uint64 // immutable after Chain
	in      chan inMsg
	inBytes atomic.Int64
	stop    chan struct{}
	once    sync.Once
}

type inMsg struct {
	from uint64
	msg  []byte
}

func (reg *chainReg) remove() {
	reg.once.Do(func() {
		reg.net.removed.Store(true)
		close(reg.stop)
	})
}

// enqueue offers an inbound message without blocking.
func (reg *chainReg) enqueue(limit int64, m inMsg) bool {
	n := int64(len(m.msg))
	if nb := reg.inBytes.Add(n); nb > limit && nb != n {
		reg.inBytes.Add(-n)
		return false
	}
	select {
	case reg.in <- m:
		return true
	default:
		reg.inBytes.Add(-n)
		return false
	}
}

// deliver hands queued inbound messages to the Receiver, in order.
func (reg *chainReg) deliver(t *Transport) {
	defer t.wg.Done()
	for {
		select {
		case <-reg.stop:
			return
		case <-t.done:
			return
		case m := <-reg.in:
			reg.inBytes.Add(-int64(len(m.msg)))
			reg.r.Receive(m.from, m.msg)
		}
	}
}

// dispatch routes an inbound frame from p to its chain's queue.
func (t *Transport) dispatch(p *peer, chainID string, payload []byte) {
	t.mu.RLock()
	reg := t.chains[chainID]
	t.mu.RUnlock()
	if reg == nil {
		p.droppedIn.Add(1)
		t.log.Debug("p2p frame for unregistered chain dropped", "peer", p.ID, "chain", chainID)
		return
	}
	k := reg.byPeer[p.ID]
	if k == 0 {
		p.droppedIn.Add(1)
		t.log.Debug("p2p frame from non-member dropped", "peer", p.ID, "chain", chainID)
		return
	}
	if !reg.enqueue(t.cfg.QueueBytes, inMsg{from: k, msg: payload}) {
		p.droppedIn.Add(1)
	}
}
