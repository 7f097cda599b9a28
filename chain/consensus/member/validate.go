package member

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
)

// Run validates or follows until ctx ends or an engine fails. An engine
// that cannot be built for the set at start is an error (the node is
// misconfigured); for a later set the node follows instead.
func (r *Runner) Run(ctx context.Context) error {
	for first := true; ctx.Err() == nil; first = false {
		if !r.restoreIfPruned(ctx) && len(r.prunedPast()) > 0 {
			// No peer served a snapshot that verified: the engine cannot
			// get the blocks either. Pause before it starts again.
			r.cfg.Logger.Warn("peers pruned past the head and no snapshot restored: retrying", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "after", r.cfg.ProbeAfter)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.cfg.ProbeAfter):
			}
		}
		vs, hash := r.cfg.App.NextValidators()
		if r.cfg.OnSet != nil {
			r.cfg.OnSet(vs)
		}
		if vs.Index(r.cfg.SelfID) < 0 {
			r.follow(ctx, hash)
			continue
		}
		err := r.validate(ctx, vs, hash)
		if errors.Is(err, errBuild) && !first {
			// E.g. governance named this node with another key: it cannot
			// sign for the set, so it follows until the set changes.
			r.cfg.Logger.Error("cannot validate; following", "chain", r.cfg.ChainID, "err", err)
			r.follow(ctx, hash)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errBuild marks an engine that could not be built for a set.
var errBuild = errors.New("no engine for the validator set")

// validate runs an engine for vs until the set certifying the next block
// is another (returns nil), ctx ends (nil), the engine fails, or the node
// finds itself left behind (it fetches blocks, then returns nil).
func (r *Runner) validate(ctx context.Context, vs *chain.ValidatorSet, hash crypto.Hash) error {
	from, err := SetFrom(r.cfg.App)
	if err != nil {
		return err
	}
	tag := tagOf(r.cfg.Suite, hash, from)
	net := &setNet{r: r, vs: vs, tag: tag}
	eng, err := r.cfg.Build(vs, net)
	if err != nil {
		return fmt.Errorf("%w: %w", errBuild, err)
	}
	head := r.cfg.App.Head().Height
	r.cfg.Logger.Info("validating", "chain", r.cfg.ChainID, "from_height", head+1, "validators", len(vs.Validators), "index", vs.Index(r.cfg.SelfID), "set", hash)
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Route messages before it runs: it answers peers' sync requests at
	// once (peers switching too wait for them) and holds the rest.
	r.forget(tag)
	r.setEngine(eng, vs, tag)
	r.replayHeld()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ectx) }()
	// silence stops the engine's messages at once (it must not speak for a
	// set that no longer certifies); stop also ends it and waits for it.
	silence := func() {
		net.closed.Store(true)
		r.setEngine(nil, nil, setTag{})
	}
	stop := func() error {
		silence()
		cancel()
		return <-done
	}
	// changed reports a set change, after telling the old set's validators.
	changed := func() bool {
		_, h := r.cfg.App.NextValidators()
		if h != hash {
			r.leave(vs, tag, r.cfg.App.Head().Height)
		}
		return h != hash
	}
	resubmit := r.cfg.App.PendingTxs(r.cfg.MaxResubmit)
	tick := time.NewTicker(r.cfg.FollowEvery)
	defer tick.Stop()
	// Last commit or probe: the first probe goes out on the first tick, so
	// a node restarted behind pruning peers learns it at once.
	lastMove := time.Now().Add(-r.cfg.ProbeAfter)
	behindProbes := 0 // probes in a row that found validators ahead, no commit since
	for {
		if resubmit != nil && ready(eng) {
			// What the previous engine held (best effort: clients resubmit
			// what is lost).
			for _, tx := range resubmit {
				_ = eng.SubmitTx(tx.Encode())
			}
			resubmit = nil
		}
		committed := r.cfg.App.Committed()
		if _, h := r.cfg.App.NextValidators(); h != hash {
			err := stop()
			changed()
			r.cfg.Logger.Info("validator set changed: engine stopped", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "set", h, "engine_err", err)
			return nil
		}
		select {
		case <-committed:
			lastMove, behindProbes = time.Now(), 0
		case <-tick.C:
			if time.Since(lastMove) < r.cfg.ProbeAfter {
				break
			}
			lastMove = time.Now()
			r.sync.Probe()
			if len(r.prunedPast()) > 0 {
				err := stop()
				r.cfg.Logger.Warn("peers pruned past the head: engine stopped for state sync", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "engine_err", err)
				return nil
			}
			// The engine committed nothing for two probes while enough
			// validators were ahead: it was left behind (e.g. it missed a set
			// change its peers no longer tell it about). Fetch the blocks
			// with the engine stopped, so the two do not race. (One probe
			// could catch an engine a moment behind its peers.)
			to := r.provenHead()
			if to <= r.cfg.App.Head().Height {
				behindProbes = 0
			} else if behindProbes++; behindProbes >= 2 {
				err := stop()
				r.cfg.Logger.Warn("no commit while validators are ahead: engine stopped to fetch blocks", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "to", to, "engine_err", err)
				r.catchUp(ctx, hash, to)
				changed()
				return nil
			}
		case b := <-r.behind:
			if b.tag != tag {
				continue
			}
			err := stop()
			r.cfg.Logger.Warn("left behind: engine stopped to fetch blocks", "chain", r.cfg.ChainID, "height", r.cfg.App.Head().Height, "to", b.height, "engine_err", err)
			r.catchUp(ctx, hash, b.height)
			changed()
			return nil
		case err := <-done:
			silence()
			if changed() && ctx.Err() == nil {
				// Raced with the change (a decision under the old set).
				r.cfg.Logger.Warn("engine stopped at a set change", "chain", r.cfg.ChainID, "err", err)
				return nil
			}
			var be *consensus.BehindError
			if errors.As(err, &be) && ctx.Err() == nil {
				r.cfg.Logger.Warn("engine stopped behind its peers: fetching blocks", "chain", r.cfg.ChainID, "err", err)
				r.catchUp(ctx, hash, be.Height)
				changed()
				return nil
			}
			return err
		case <-ctx.Done():
			return stop()
		}
	}
}

// setNet is an engine's network: validator index+1 of its set, each
// message tagged with the set. Closed, it drops everything.
type setNet struct {
	r      *Runner
	vs     *chain.ValidatorSet
	tag    setTag
	closed atomic.Bool
}

// MaxEngineMessage bounds an engine's message: the runner's tag takes the
// rest of consensus.MaxMessageSize.
const MaxEngineMessage = consensus.MaxMessageSize - 1 - tagSize

func (n *setNet) Send(to uint64, msg []byte) {
	if to == 0 || to > uint64(len(n.vs.Validators)) || n.closed.Load() {
		return
	}
	if len(msg) > MaxEngineMessage {
		n.r.cfg.Logger.Warn("engine message too large: dropped", "chain", n.r.cfg.ChainID, "bytes", len(msg), "max", MaxEngineMessage)
		return
	}
	if k := n.r.cfg.Dir.Number(n.vs.Validators[to-1].ID); k != 0 {
		out := make([]byte, 0, 1+tagSize+len(msg))
		out = append(append(append(out, kindEngine), n.tag[:]...), msg...)
		n.r.cfg.Net.Send(k, out)
	}
}

// heldMsg is an engine message received while no engine ran: peers that
// switched sets first ask for blocks and send votes before this node has
// switched; the next engine gets what came in the last holdFor.
type heldMsg struct {
	from uint64
	msg  []byte
	at   time.Time
}

// Bounds on held messages: count, bytes, one message's size, age.
const (
	maxHeld      = 1024
	maxHeldBytes = 32 << 20
	maxHeldMsg   = 1 << 20
	holdFor      = time.Second
)

// holdLocked keeps m for the next engine, dropping the oldest held
// messages past the bounds.
func (r *Runner) holdLocked(m heldMsg) {
	if len(m.msg) > maxHeldMsg {
		return
	}
	drop := 0
	for len(r.mu.held)-drop >= maxHeld || r.mu.heldBytes+len(m.msg) > maxHeldBytes {
		r.mu.heldBytes -= len(r.mu.held[drop].msg)
		drop++
	}
	r.mu.held = append(r.mu.held[drop:], m)
	r.mu.heldBytes += len(m.msg)
}

// replayHeld hands the running engine the messages held for it.
func (r *Runner) replayHeld() {
	r.mu.Lock()
	held := r.mu.held
	r.mu.held, r.mu.heldBytes = nil, 0
	r.mu.Unlock()
	for _, m := range held {
		if time.Since(m.at) < holdFor {
			r.Receive(m.from, m.msg)
		}
	}
}
