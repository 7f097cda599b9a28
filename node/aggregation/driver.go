package aggregation

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/privacy/he"
)

// tickEvery is how often the loop retransmits, checks its transactions and
// deadlines.
const tickEvery = 100 * time.Millisecond

// Driver is one node's aggregation driver. Create with New, run with Run;
// SubmitInput and Local are safe for concurrent use.
type Driver struct {
	cfg   Config
	log   *slog.Logger
	r     *replica.Replica
	suite crypto.Suite
	sign  ed25519.PrivateKey
	addr  chain.Address
	self  string // this node's address (hex): its member ID
	aggID string // its aggregator ID

	peerByAddr map[string]Peer // by node address, this node included
	addrOfNode map[string]string
	nodeNum    map[string]uint64
	nodeAt     map[uint64]string

	inbound chan inbound
	inputs  chan inputReq
	started chan struct{}
	stopped chan struct{}
	once    sync.Once

	// Owned by the Run goroutine.
	net      consensus.Network
	sessions map[string]*session
	unacked  map[ackKey]*unacked
	scanned  uint64
	dirty    bool

	mu struct {
		sync.Mutex
		local map[string]Local
	}
}

var _ consensus.Receiver = (*Driver)(nil)

type inbound struct {
	from  string // node ID
	frame []byte
}

type inputReq struct {
	id     string
	values []uint64
	reply  chan inputReply
}

type inputReply struct {
	tx  crypto.Hash
	err error
}

type ackKey struct {
	hash [32]byte
	to   string // node ID
}

type unacked struct {
	query   string
	frame   []byte
	next    time.Time
	backoff time.Duration
}

// Local is this node's side of a query, as the API reports it.
type Local struct {
	// Role is "participant", "aggregator" or "participant+aggregator".
	Role string
	// State is waiting-input or approved (participant, phase proposed),
	// waiting-approvals (aggregator), keygen, contributed, ready, done (the
	// party's protocol part is over), aggregating, result (the aggregator
	// decrypted), lost (cannot take part: a restart lost the key material,
	// or the query cannot run) or aborting (past the deadline).
	State string
	// Input reports whether this node holds (or held) the department's input.
	Input bool
	// Error is the last protocol failure, if any.
	Error string
}

// New validates cfg (timing fields left zero take DefaultConfig's values).
func New(cfg Config) (*Driver, error) {
	def := DefaultConfig()
	if cfg.Clock == nil {
		cfg.Clock = def.Clock
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = def.RetryMin
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = def.RetryMax
	}
	if cfg.AbortMargin == 0 {
		cfg.AbortMargin = def.AbortMargin
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Driver{
		cfg: cfg, log: cfg.Logger.With("component", "aggregation"), r: cfg.Chain, suite: cfg.Chain.Suite(),
		sign:       ed25519.NewKeyFromSeed(cfg.Key.Bytes()),
		peerByAddr: map[string]Peer{}, addrOfNode: map[string]string{}, nodeNum: map[string]uint64{}, nodeAt: map[uint64]string{},
		inbound: make(chan inbound, 64), inputs: make(chan inputReq), started: make(chan struct{}), stopped: make(chan struct{}),
		sessions: map[string]*session{}, unacked: map[ackKey]*unacked{},
	}
	d.mu.local = map[string]Local{}
	d.addr = chain.AddressOf(d.suite, cfg.Key.Public().Bytes())
	d.self, d.aggID = d.addr.String(), AggregatorPrefix+d.addr.String()
	ids := []string{cfg.NodeID}
	d.peerByAddr[d.self] = Peer{ID: cfg.NodeID, PubKey: d.sign.Public().(ed25519.PublicKey)}
	d.addrOfNode[cfg.NodeID] = d.self
	for _, p := range cfg.Peers {
		if p.ID == cfg.NodeID {
			continue
		}
		a := chain.AddressOf(d.suite, p.PubKey).String()
		if _, dup := d.peerByAddr[a]; dup || d.addrOfNode[p.ID] != "" {
			return nil, fmt.Errorf("aggregation: peer %q listed twice or shares a key", p.ID)
		}
		d.peerByAddr[a] = p
		d.addrOfNode[p.ID] = a
		ids = append(ids, p.ID)
	}
	sort.Strings(ids)
	for i, id := range ids {
		d.nodeNum[id], d.nodeAt[uint64(i)+1] = uint64(i)+1, id
	}
	return d, nil
}

// Address is this node's participant address on the governance chain.
func (d *Driver) Address() chain.Address { return d.addr }

// Nodes maps every federation node's ID to its address, this node included.
func (d *Driver) Nodes() map[string]string {
	out := make(map[string]string, len(d.addrOfNode))
	for id, a := range d.addrOfNode {
		out[id] = a
	}
	return out
}

// ChainID is the governance chain the driver follows.
func (d *Driver) ChainID() string { return d.r.Genesis().ChainID }

// Receive implements consensus.Receiver for the mesh channel.
func (d *Driver) Receive(from uint64, msg []byte) {
	id, ok := d.nodeAt[from]
	if !ok {
		return
	}
	select {
	case d.inbound <- inbound{from: id, frame: msg}:
	case <-d.stopped:
	}
}

// SubmitInput gives this node's department input for query id: the driver
// checks it against the query, makes the query's X25519 box key and approves
// the query on chain. It returns the approve transaction's ID. The values
// stay in this node's memory until the party encrypts them.
func (d *Driver) SubmitInput(ctx context.Context, id string, values []uint64) (crypto.Hash, error) {
	req := inputReq{id: id, values: values, reply: make(chan inputReply, 1)}
	select {
	case <-d.started:
	default:
		return crypto.Hash{}, ErrUnavailable
	}
	select {
	case d.inputs <- req:
	case <-d.stopped:
		return crypto.Hash{}, ErrUnavailable
	case <-ctx.Done():
		return crypto.Hash{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.tx, r.err
	case <-ctx.Done():
		return crypto.Hash{}, ctx.Err()
	}
}

// Local returns this node's side of query id, if it takes part.
func (d *Driver) Local(id string) (Local, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.mu.local[id]
	return l, ok
}

// Run drives queries until ctx ends. Call it once.
func (d *Driver) Run(ctx context.Context) error {
	members := make(map[uint64]string, len(d.nodeAt))
	for k, v := range d.nodeAt {
		members[k] = v
	}
	d.net = d.cfg.Mesh.Chain(Channel, members, d.nodeNum[d.cfg.NodeID], d)
	defer d.once.Do(func() { close(d.stopped) })
	if err := d.loadState(); err != nil {
		return err
	}
	close(d.started)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		committed := d.r.Committed()
		d.scan()
		d.persist()
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-committed:
		case in := <-d.inbound:
			d.handleFrame(in)
		case req := <-d.inputs:
			tx, err := d.input(req.id, req.values)
			req.reply <- inputReply{tx: tx, err: err}
		case <-tick.C:
			d.tick()
		}
	}
}

// shutdown erases every query's key material.
func (d *Driver) shutdown() {
	for _, s := range d.sessions {
		s.erase()
	}
}

// input handles SubmitInput on the loop.
func (d *Driver) input(id string, values []uint64) (crypto.Hash, error) {
	rec, err := d.load(id)
	if err != nil {
		return crypto.Hash{}, err
	}
	if rec == nil {
		return crypto.Hash{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	idx := indexOf(rec.Participants, d.self)
	switch {
	case idx < 0:
		return crypto.Hash{}, fmt.Errorf("%w: %s in query %q", ErrNotParticipant, d.self, id)
	case rec.Final() || d.expired(rec):
		return crypto.Hash{}, fmt.Errorf("%w: query %q", ErrExpired, id)
	case rec.Phase != aggregate.PhaseProposed:
		return crypto.Hash{}, fmt.Errorf("%w: query %q is %s", ErrWrongPhase, id, rec.Phase)
	case rec.Approved[idx]:
		return crypto.Hash{}, fmt.Errorf("%w: this node approved query %q already", ErrInputExists, id)
	case len(values) != rec.VectorLen:
		return crypto.Hash{}, fmt.Errorf("%w: %d values, query %q wants %d", ErrBadInput, len(values), id, rec.VectorLen)
	}
	limit := he.MaxValue(len(rec.Participants))
	for i, v := range values {
		if v > limit {
			return crypto.Hash{}, fmt.Errorf("%w: value %d is %d, above %d (the sum of %d departments must not wrap)", ErrBadInput, i, v, limit, len(rec.Participants))
		}
	}
	s := d.session(rec)
	if s.input != nil || s.box != nil {
		return crypto.Hash{}, fmt.Errorf("%w: query %q", ErrInputExists, id)
	}
	box, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return crypto.Hash{}, err
	}
	s.box, s.input, s.hadInput = box, append([]uint64(nil), values...), true
	t := d.submitTx(s, "approve", aggregate.ApproveArgs{ID: id, BoxKey: hex.EncodeToString(box.PublicKey().Bytes())})
	d.publishLocal(s)
	if t.err != nil {
		s.erase()
		s.box, s.hadInput = nil, false
		delete(s.txs, "approve")
		d.publishLocal(s)
		return crypto.Hash{}, t.err
	}
	return t.id, nil
}

// session returns the session of rec's query, creating it.
func (d *Driver) session(rec *aggregate.Query) *session {
	s := d.sessions[rec.ID]
	if s == nil {
		s = &session{id: rec.ID, txs: map[string]*txTrack{}, hashes: map[he.Kind][32]byte{}}
		d.sessions[rec.ID] = s
		d.dirty = true
	}
	s.rec = rec
	s.member = indexOf(rec.Participants, d.self)
	s.isAgg = rec.Aggregator == d.self
	return s
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
