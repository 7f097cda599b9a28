// Package member runs one node's part in a chain across validator set
// changes. While the set certifying the next block names the node, it runs
// a consensus engine built for that set, numbering the set's validators
// index+1 as certificates do; when a committed block changes the set (the
// valset module; the change applies from the next height on every node),
// it stops that engine and starts one for the new set from the ledger head.
// While the set does not name the node, the node follows: it fetches
// committed blocks from the set's validators (blocksync: each certificate
// checked against the set the node's own state names for that height, each
// block re-executed) until the set names it.
//
// When the peers that answer have all pruned the block after the node's
// head (a follower's round finds it, or a validator's probe when its
// engine starts or after ProbeAfter without a commit), the node stops its
// engine, restores a
// state snapshot from one of them (statesync; verified from the genesis
// and swapped in for the ledger, another peer tried if one fails), fetches
// the blocks after it and validates or follows again.
//
// Every node, validator or follower, serves followers' block requests on
// the chain's network (whose transport admits only authenticated peers);
// a follower forwards the transactions its clients submit to validators.
//
// An engine's messages carry a tag of its set (the first bytes of the
// set's hash), and only the engine of that set gets them: around a change,
// nodes run the old and the new set's engines at once, and a Raft cluster
// handed another cluster's messages corrupts its log. A node that left a
// set answers a message for it with a notice (the set ended, at its head
// then), and sends one to the set's validators when it leaves; a node
// still running that set's engine below that height was left behind (its
// peers stopped their engines, so it would wait for ever): it stops the
// engine and fetches blocks until the set changes.
package member

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/codec"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/consensus/blocksync"
	"github.com/polityledger/polity/chain/consensus/statesync"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
)

// Message kinds the runner takes from the chain's stream before the engine
// sees it; engines use small kind bytes and never these.
const (
	kindFollowAsk  byte = 0xF0 // blocksync request from any node of the chain
	kindFollowGive byte = 0xF1 // blocksync response
	kindForward    byte = 0xF2 // a transaction a follower admitted, for a validator to order
	kindEngine     byte = 0xF3 // an engine message: its set's tag, then the message
	kindSetEnded   byte = 0xF4 // the sender left a set: its tag, then the sender's head then (varint)
	kindSnapAsk    byte = 0xF6 // state sync: ask for a snapshot chunk
	kindSnapChunk  byte = 0xF7 // state sync: a snapshot chunk
)

// tagSize is how many bytes of a set's tag its engine's messages carry.
const tagSize = 8

// setTag names an incarnation of a validator set on the wire.
type setTag [tagSize]byte

// tagOf tags set hash h certifying from height from: a set that returns
// after another (A, B, A) is a new incarnation, with a new Raft cluster,
// and its messages must not reach an engine still running the old one.
func tagOf(s crypto.Suite, h crypto.Hash, from uint64) (t setTag) {
	sum := s.Hash(binary.AppendUvarint(append([]byte(nil), h[:]...), from))
	copy(t[:], sum[:])
	return t
}

// SetFrom returns the height the set certifying the block after app's
// head took effect at: 1 for the genesis set, N+1 for a set a change at N
// decided.
func SetFrom(app App) (uint64, error) {
	changes, err := app.ValidatorChanges(app.Head().Height + 1)
	if err != nil {
		return 0, fmt.Errorf("member: validator set changes: %w", err)
	}
	if len(changes) == 0 {
		return 1, nil
	}
	return changes[len(changes)-1].Height + 1, nil
}

// Bounds on what the runner remembers of sets it left.
const (
	// maxEnded bounds the sets remembered as ended.
	maxEnded = 8
	// noticeEvery bounds how often one peer is told that a set ended.
	noticeEvery = 500 * time.Millisecond
	// catchUpIdle ends a catch-up that brought nothing for this long (a
	// notice that claimed more than the peers have): the engine runs again.
	catchUpIdle = 5 * time.Second
)

// ended is a set this node left and its head when it left.
type ended struct {
	tag  setTag
	head uint64
}

// behind asks the validate loop running set tag's engine to stop it and
// fetch blocks up to height.
type behind struct {
	tag    setTag
	height uint64
}

// ErrFollower is returned by SubmitTx when this node follows the chain
// and reaches none of its validators.
var ErrFollower = errors.New("this node does not validate the chain now")

// App is the chain as a node holds it (implemented by replica.Replica).
type App interface {
	blocksync.Ledger
	// Deliver re-executes and commits a certified block.
	Deliver(b *chain.Block) error
	// Committed returns a channel closed at the next committed block.
	Committed() <-chan struct{}
	// PendingTxs returns up to max admitted transactions, for a new engine.
	PendingTxs(max int) []*chain.Tx
	// Submit admits a transaction (a follower's forward) for ordering.
	Submit(tx *chain.Tx) (crypto.Hash, error)
	// WriteSnapshot writes the state at the head, with what certifies it,
	// for a peer's state sync.
	WriteSnapshot(w io.Writer) (uint64, error)
	// StateSync replaces the ledger with a snapshot stream it verifies
	// from the genesis, if the snapshot is past the head.
	StateSync(rd io.Reader) (uint64, error)
	// ValidatorChanges returns the validator set changes decided below
	// height before.
	ValidatorChanges(before uint64) ([]ledger.Change, error)
}

// Engine orders blocks for one validator set.
type Engine interface {
	consensus.Engine
	consensus.Receiver
	SubmitTx(raw []byte) error
}

// Directory numbers the nodes reachable on the chain's network.
type Directory interface {
	// Number returns the node's number on the network, 0 if it has none.
	Number(id string) uint64
	// ID returns the ID of node number n, "" if none.
	ID(n uint64) string
}

// Config of a Runner.
type Config struct {
	ChainID string
	App     App
	SelfID  string
	Dir     Directory
	// Net carries the chain's messages, addressed by Dir's numbers.
	Net consensus.Network
	// Build makes an engine for set vs, which names this node; net
	// addresses vs's validators as index+1.
	Build func(vs *chain.ValidatorSet, net consensus.Network) (Engine, error)
	// FollowEvery is a follower's pause after a round that brought nothing
	// (default 100 ms); RoundWait bounds a round (blocksync's default if 0).
	FollowEvery time.Duration
	RoundWait   time.Duration
	// ProbeAfter is how long a validator's chain may go without a commit
	// before the runner asks peers whether they pruned past its head
	// (DefaultProbeAfter if 0); it also asks once when an engine starts.
	ProbeAfter time.Duration
	// ChunkWait bounds the wait for one state sync chunk (statesync's
	// default if 0).
	ChunkWait time.Duration
	// MaxResubmit bounds the pending transactions handed to a new engine.
	MaxResubmit int
	// OnSet, if set, is called with each set before the runner validates
	// or follows under it (the node connects to validators it lacks).
	OnSet  func(vs *chain.ValidatorSet)
	Logger *slog.Logger
	Suite  crypto.Suite
}

// Runner is a node's part in one chain. Receive and SubmitTx are safe for
// concurrent use; Run is called once.
type Runner struct {
	cfg      Config
	sync     *blocksync.Syncer
	snaps    *statesync.Transfer
	forwards atomic.Uint64
	behind   chan behind
	mu       struct {
		sync.Mutex
		eng       Engine
		vs        *chain.ValidatorSet // eng's set
		tag       setTag              // eng's set's tag
		held      []heldMsg           // engine messages for no running engine
		heldBytes int
		ended     []ended              // the sets left last, oldest first
		noticed   map[uint64]time.Time // when each peer was last told a set ended
		endedBy   map[uint64]uint64    // eng's set's members that said they left it: their heads
	}
}

var (
	_ consensus.Engine   = (*Runner)(nil)
	_ consensus.Receiver = (*Runner)(nil)
)

// New returns a runner; Run starts it.
func New(cfg Config) (*Runner, error) {
	if cfg.App == nil || cfg.Dir == nil || cfg.Net == nil || cfg.Build == nil || cfg.Suite == nil {
		return nil, errors.New("member: app, directory, network, build and suite are required")
	}
	if cfg.FollowEvery <= 0 {
		cfg.FollowEvery = 100 * time.Millisecond
	}
	if cfg.ProbeAfter <= 0 {
		cfg.ProbeAfter = DefaultProbeAfter
	}
	if cfg.MaxResubmit <= 0 {
		cfg.MaxResubmit = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, behind: make(chan behind, 1)}
	r.mu.noticed = make(map[uint64]time.Time)
	r.sync = blocksync.New(blocksync.Config{
		Suite: cfg.Suite, Ledger: cfg.App, Deliver: cfg.App.Deliver, Net: cfg.Net,
		Self: cfg.Dir.Number(cfg.SelfID), Peers: r.validatorNumbers,
		RequestKind: kindFollowAsk, ResponseKind: kindFollowGive, RoundWait: cfg.RoundWait, Logger: cfg.Logger,
	})
	r.snaps = statesync.New(statesync.Config{Net: cfg.Net, AskKind: kindSnapAsk, ChunkKind: kindSnapChunk,
		Write: cfg.App.WriteSnapshot, ChunkWait: cfg.ChunkWait, Logger: cfg.Logger})
	return r, nil
}

// Validating reports whether an engine runs (this node is in the set).
func (r *Runner) Validating() bool {
	eng, _ := r.engine()
	return eng != nil
}

// Engine returns the running engine, nil while following.
func (r *Runner) Engine() Engine {
	eng, _ := r.engine()
	return eng
}

func (r *Runner) engine() (Engine, *chain.ValidatorSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.eng, r.mu.vs
}

func (r *Runner) setEngine(eng Engine, vs *chain.ValidatorSet, tag setTag) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.eng, r.mu.vs, r.mu.tag = eng, vs, tag
	r.mu.endedBy = nil
}

// ErrStarting is returned by SubmitTx while the engine starts.
var ErrStarting = errors.New("the consensus engine is starting")

// SubmitTx hands an admitted transaction to the engine once it is ready,
// so none is stranded in an engine that never orders it. A follower
// forwards it to f+1 validators of the current set (at least one of them
// correct), which admit it as if a client had sent it.
func (r *Runner) SubmitTx(raw []byte) error {
	eng, _ := r.engine()
	if eng == nil {
		if r.validatorSoon() {
			return ErrStarting
		}
		return r.forward(raw)
	}
	if !ready(eng) {
		return ErrStarting
	}
	return eng.SubmitTx(raw)
}

func ready(eng Engine) bool {
	rd, ok := eng.(interface{ Ready() bool })
	return !ok || rd.Ready()
}

// Receive routes a message from node number from: follower sync to the
// runner's syncer, anything else to the engine if the sender is a
// validator of its set.
func (r *Runner) Receive(from uint64, msg []byte) {
	if len(msg) == 0 {
		return
	}
	switch msg[0] {
	case kindFollowAsk:
		r.sync.Serve(from, msg[1:])
	case kindFollowGive:
		r.sync.Receive(from, msg[1:])
	case kindForward:
		r.admitForwarded(from, msg[1:])
	case kindEngine:
		r.receiveEngine(from, msg)
	case kindSetEnded:
		r.receiveEnded(from, msg[1:])
	case kindSnapAsk:
		r.snaps.Serve(from, msg[1:])
	case kindSnapChunk:
		r.snaps.Receive(from, msg[1:])
	}
}

// receiveEngine hands an engine message to the engine of its set. One for
// a set this node left gets a notice back; one for another set is held for
// the next engine (the sender may have switched first).
func (r *Runner) receiveEngine(from uint64, msg []byte) {
	if len(msg) <= 1+tagSize {
		return
	}
	tag := setTag(msg[1 : 1+tagSize])
	r.mu.Lock()
	eng, vs, ours := r.mu.eng, r.mu.vs, r.mu.eng != nil && r.mu.tag == tag
	var notice []byte
	if !ours {
		if head, left := r.endedLocked(tag); !left {
			r.holdLocked(heldMsg{from, msg, time.Now()})
		} else if now := time.Now(); now.Sub(r.mu.noticed[from]) >= noticeEvery {
			r.mu.noticed[from] = now
			notice = encodeEnded(tag, head)
		}
	}
	r.mu.Unlock()
	if notice != nil {
		r.cfg.Net.Send(from, notice)
	}
	if !ours {
		return
	}
	if i := vs.Index(r.cfg.Dir.ID(from)); i >= 0 {
		eng.Receive(uint64(i)+1, msg[1+tagSize:])
	}
}

// endedLocked returns the head at which this node left set tag, if it did.
func (r *Runner) endedLocked(tag setTag) (uint64, bool) {
	for _, e := range r.mu.ended {
		if e.tag == tag {
			return e.head, true
		}
	}
	return 0, false
}

// leave records that this node left set vs at head and tells the set's
// other validators, so one still running its engine below head stops it.
func (r *Runner) leave(vs *chain.ValidatorSet, tag setTag, head uint64) {
	r.mu.Lock()
	r.mu.ended = append(r.mu.ended, ended{tag: tag, head: head})
	if len(r.mu.ended) > maxEnded {
		r.mu.ended = r.mu.ended[1:]
	}
	r.mu.Unlock()
	notice := encodeEnded(tag, head)
	for _, v := range vs.Validators {
		if n := r.cfg.Dir.Number(v.ID); n != 0 && v.ID != r.cfg.SelfID {
			r.cfg.Net.Send(n, notice)
		}
	}
}

// forget drops set tag from the ended sets: this node runs it again.
func (r *Runner) forget(tag setTag) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.ended = slices.DeleteFunc(r.mu.ended, func(e ended) bool { return e.tag == tag })
}

func encodeEnded(tag setTag, head uint64) []byte {
	w := codec.NewWriter(1 + tagSize + binary.MaxVarintLen64)
	w.Byte(kindSetEnded)
	w.Fixed(tag[:])
	w.Uint(head)
	return w.Bytes()
}

// decodeEnded strictly decodes a notice's body (after the kind byte).
func decodeEnded(body []byte) (setTag, uint64, error) {
	r := codec.NewReader(body)
	var tag setTag
	copy(tag[:], r.Fixed("ended.tag", tagSize))
	head := r.Uint("ended.head")
	if err := r.Done(); err != nil {
		return setTag{}, 0, fmt.Errorf("member: malformed set notice: %w", err)
	}
	return tag, head, nil
}

// receiveEnded takes a peer's notice that a set ended: if this node runs
// that set's engine below the peer's head then, the validate loop stops it
// and catches up. The peer may be wrong; the catch-up is bounded.
func (r *Runner) receiveEnded(from uint64, body []byte) {
	tag, head, err := decodeEnded(body)
	if err != nil {
		return
	}
	myHead := r.cfg.App.Head().Height
	r.mu.Lock()
	ours := r.mu.eng != nil && r.mu.tag == tag
	// Only the set's own members can say they left it, and a Byzantine one
	// could lie: on a BFT set f+1 of them must say so (one is honest), and
	// the node catches up to the lowest head they claim.
	var to uint64
	if ours && r.mu.vs.Index(r.cfg.Dir.ID(from)) >= 0 && head > myHead {
		if r.mu.endedBy == nil {
			r.mu.endedBy = map[uint64]uint64{}
		}
		r.mu.endedBy[from] = head
		if len(r.mu.endedBy) >= r.mu.vs.Vouchers() {
			to = head
			for _, h := range r.mu.endedBy {
				to = min(to, h)
			}
		}
	}
	r.mu.Unlock()
	r.cfg.Logger.Debug("set ended notice", "chain", r.cfg.ChainID, "running", ours, "from", r.cfg.Dir.ID(from), "peer_head", head, "head", myHead)
	if to <= myHead {
		return
	}
	select {
	case r.behind <- behind{tag: tag, height: to}:
	default:
	}
}

// Ready reports whether the engine can take transactions (it knows a
// leader); a follower, which takes none, is ready at once.
func (r *Runner) Ready() bool {
	eng := r.Engine()
	if eng == nil {
		return !r.validatorSoon()
	}
	return ready(eng)
}

// validatorSoon reports whether the set names this node though no engine
// runs yet (starting or switching).
func (r *Runner) validatorSoon() bool {
	vs, _ := r.cfg.App.NextValidators()
	return vs.Index(r.cfg.SelfID) >= 0
}
