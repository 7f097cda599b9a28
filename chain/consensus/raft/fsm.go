package raft

import (
	"errors"
	"fmt"
	"io"
	"sync"

	hraft "github.com/hashicorp/raft"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/ledger"
)

// fsm is the replicated state machine raft drives. Its state is the ledger
// (durable by itself) plus the pending block: the one proposal at head+1
// that validators have verified and signed and that waits for its
// certificate entry. Apply is deterministic: every node, at the same log
// position, has the same ledger head and pending block, so it accepts or
// skips each entry alike. Entries at heights already in the ledger are
// skipped, which makes replaying the log after a restart harmless.
type fsm struct {
	e  *Engine
	mu struct {
		sync.Mutex
		pending *chain.Block
		hash    crypto.Hash
		sig     []byte      // this validator's certificate signature over pending
		built   crypto.Hash // the header this node built as leader (already executed)
	}
}

var _ hraft.FSM = (*fsm)(nil)

// applied is Apply's response to the leader that proposed an entry.
type applied struct {
	delivered bool  // a certificate entry committed its block
	skipped   error // why the entry changed nothing
}

// Reasons an entry is skipped.
var (
	errStale       = errors.New("raft: entry for a height already committed")
	errPendingBusy = errors.New("raft: another block is already pending at this height")
	errNoPending   = errors.New("raft: certificate for a block that is not pending")
	errSetEnded    = errors.New("raft: entry after the engine's validator set ended")
)

// Apply implements raft.FSM.
func (f *fsm) Apply(l *hraft.Log) any {
	if l.Type != hraft.LogCommand {
		return applied{}
	}
	b, c, err := decodeEntry(l.Data)
	if err != nil {
		f.e.log.Warn("skipping undecodable log entry", "index", l.Index, "err", err)
		return applied{skipped: err}
	}
	// The ledger's set changes with the block that changes it, at the same
	// log position on every node: entries after it belong to no set this
	// cluster speaks for (the next set's cluster orders those heights).
	if _, h := f.e.cfg.App.NextValidators(); h != f.e.setHash {
		return applied{skipped: errSetEnded}
	}
	if b != nil {
		return f.applyProposal(b)
	}
	return f.applyCert(c)
}

func (f *fsm) applyProposal(b *chain.Block) applied {
	head := f.e.cfg.App.Head()
	switch {
	case b.Header.Height <= head.Height:
		return applied{skipped: errStale}
	case b.Header.Height > head.Height+1:
		// The log starts past the ledger (a peer's snapshot without the
		// blocks before it, or a log kept across a lost ledger write): the
		// runner fetches the missing blocks and starts the engine again.
		err := fmt.Errorf("raft: proposal for height %d while the ledger is at %d: %w", b.Header.Height, head.Height,
			&consensus.BehindError{Height: b.Header.Height - 1, Head: head.Height})
		f.e.fail(err)
		return applied{skipped: err}
	}
	hh := b.Header.Hash(f.e.cfg.Suite)
	f.mu.Lock()
	busy := f.mu.pending != nil && f.mu.pending.Header.Height == b.Header.Height
	built := f.mu.built == hh
	f.mu.Unlock()
	if busy {
		return applied{skipped: errPendingBusy}
	}
	// A block this node built was executed on this very head by Build.
	if !built {
		if err := f.e.cfg.App.Verify(b); err != nil {
			f.e.log.Warn("skipping invalid proposal", "height", b.Header.Height, "proposer", b.Header.Proposer, "err", err)
			return applied{skipped: err}
		}
	}
	sig, err := f.e.sign(&b.Header, hh)
	if err != nil {
		f.e.fail(err)
		return applied{skipped: err}
	}
	f.mu.Lock()
	f.mu.pending, f.mu.hash, f.mu.sig = b, hh, sig
	f.mu.Unlock()
	if idx := f.e.cfg.Validators.Index(b.Header.Proposer); idx >= 0 {
		f.e.sendVote(uint64(idx)+1, vote{height: b.Header.Height, hash: hh, sig: sig})
	}
	return applied{}
}

func (f *fsm) applyCert(c *certEntry) applied {
	head := f.e.cfg.App.Head()
	if c.height <= head.Height {
		return applied{skipped: errStale}
	}
	f.mu.Lock()
	p, hh := f.mu.pending, f.mu.hash
	f.mu.Unlock()
	if p == nil || p.Header.Height != c.height || hh != c.hash {
		return applied{skipped: errNoPending}
	}
	if err := chain.VerifyCommit(f.e.cfg.Suite, &f.e.cfg.Validators, &p.Header, &c.commit); err != nil {
		f.e.log.Warn("skipping invalid certificate", "height", c.height, "err", err)
		return applied{skipped: err}
	}
	blk := *p
	blk.Commit = c.commit
	if err := f.e.cfg.App.Deliver(&blk); err != nil {
		err = fmt.Errorf("raft: deliver %d: %w", c.height, err)
		f.e.fail(err)
		return applied{skipped: err}
	}
	f.mu.Lock()
	f.mu.pending, f.mu.sig = nil, nil
	f.mu.Unlock()
	return applied{delivered: true}
}

// pendingBlock returns the pending block if it extends the ledger head.
func (f *fsm) pendingBlock() (*chain.Block, crypto.Hash, []byte) {
	head := f.e.cfg.App.Head()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.pending == nil || f.mu.pending.Header.Height != head.Height+1 {
		return nil, crypto.Hash{}, nil
	}
	return f.mu.pending, f.mu.hash, f.mu.sig
}

func (f *fsm) markBuilt(hh crypto.Hash) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.built = hh
}

// Snapshot implements raft.FSM: the ledger head and the pending block.
func (f *fsm) Snapshot() (hraft.FSMSnapshot, error) {
	head := f.e.cfg.App.Head()
	s := snapshot{height: head.Height, hash: head.Hash(f.e.cfg.Suite)}
	s.pending, _, _ = f.pendingBlock()
	return fsmSnapshot(encodeSnapshot(s)), nil
}

// Restore implements raft.FSM. A snapshot from the leader may be ahead of
// the ledger: the missing blocks are fetched from peers, each checked
// against its certificate and re-executed. The ledger must then hold the
// snapshot's header at its height; a different one is a fork and fails.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxData+envelope+1))
	if err != nil {
		return err
	}
	s, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	if head := f.e.cfg.App.Head(); head.Height < s.height {
		f.e.log.Info("snapshot is ahead of the ledger: fetching blocks", "from", head.Height+1, "to", s.height)
		if err := f.e.syncTo(s.height, f.e.cfg.RestoreTimeout); err != nil {
			return err
		}
	}
	if s.height > 0 {
		have, err := f.e.cfg.App.Block(s.height)
		switch {
		case errors.Is(err, ledger.ErrBlockPruned):
			// The ledger keeps fewer blocks than Raft's log spans (or began
			// from a state snapshot above it); its blocks are certified, so
			// there is nothing to compare and nothing missing.
			f.e.log.Info("snapshot's block is pruned from the ledger: accepted", "height", s.height, "ledger_head", f.e.cfg.App.Head().Height)
		case err != nil:
			return fmt.Errorf("raft: restore: block %d: %w", s.height, err)
		case have.Header.Hash(f.e.cfg.Suite) != s.hash:
			err := fmt.Errorf("raft: restore: the ledger's block %d differs from the snapshot's", s.height)
			f.e.fail(err)
			return err
		}
	}
	f.mu.Lock()
	f.mu.pending, f.mu.sig = nil, nil
	f.mu.Unlock()
	if p := s.pending; p != nil && p.Header.Height == f.e.cfg.App.Head().Height+1 {
		if err := f.e.cfg.App.Verify(p); err != nil {
			return fmt.Errorf("raft: restore: pending block %d: %w", p.Header.Height, err)
		}
		hh := p.Header.Hash(f.e.cfg.Suite)
		sig, err := f.e.sign(&p.Header, hh)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.mu.pending, f.mu.hash, f.mu.sig = p, hh, sig
		f.mu.Unlock()
	}
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}
