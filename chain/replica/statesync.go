package replica

import (
	"fmt"
	"github.com/polityledger/polity/chain/crypto"
	"io"
	"os"

	"github.com/polityledger/polity/chain/ledger"
)

// StateSync replaces the ledger with the chain restored from a snapshot
// stream, verified as RestoreSnapshot verifies it, if the snapshot is past
// the head; it returns the new height. The restore goes to a directory
// beside the ledger and is swapped in by ledger.Replace, so a crash leaves
// the old ledger or the new one. On error the ledger is unchanged.
func (r *Replica) StateSync(rd io.Reader) (uint64, error) {
	cfg := r.cfg
	cfg.Dir = r.led.RestoreDir()
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return 0, err
	}
	h, err := RestoreSnapshot(cfg, rd)
	if err != nil {
		return 0, err
	}
	r.deliverMu.Lock()
	defer r.deliverMu.Unlock()
	if head := r.led.Height(); h <= head {
		os.RemoveAll(cfg.Dir)
		return 0, fmt.Errorf("%w: snapshot at %d is not past the head %d", ErrBadSnapshot, h, head)
	}
	if err := r.led.Replace(); err != nil {
		return 0, err
	}
	if err := r.loadNext(); err != nil {
		return 0, err
	}
	r.pool.Update(nil, h)
	r.mu.Lock()
	r.mu.proposals = make(map[crypto.Hash]*ledger.StateUpdate)
	close(r.mu.committed)
	r.mu.committed = make(chan struct{})
	r.mu.Unlock()
	r.waiters.wakeAll()
	r.log.Info("state restored from a peer's snapshot", "height", h)
	return h, nil
}
