package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Base returns the lowest height whose block this ledger holds in full
// (the genesis aside): 0, the height it was restored at from a snapshot,
// or the oldest block RetainBlocks keeps.
func (l *Ledger) Base() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.base
}

// setBase sets the base in memory and returns the previous one.
func (l *Ledger) setBase(b uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.mu.base
	l.mu.base = b
	return old
}

// checkBase refuses a block read below the base.
func (l *Ledger) checkBase(h uint64) error {
	if base := l.Base(); h > 0 && h < base {
		return fmt.Errorf("block %d: %w (the ledger holds blocks from %d)", h, ErrBlockPruned, base)
	}
	return nil
}

// pruned turns a missing record below the base into ErrBlockPruned.
func (l *Ledger) pruned(h uint64, err error) error {
	if errors.Is(err, ErrNotFound) && l.checkBase(h) != nil {
		return ErrBlockPruned
	}
	return err
}

// pruneBlocks, in the batch committing height, deletes the blocks that
// fall below the retention window (bodies, receipts, and headers with
// certificates except at validator set changes) and moves the base; it
// returns the new base. The transaction index stays, so a pruned
// transaction reads as pruned rather than unknown.
func (l *Ledger) pruneBlocks(batch *pebble.Batch, height uint64) (uint64, error) {
	base, keep := l.Base(), l.opts.RetainBlocks
	if keep == 0 || height < keep || height+1-keep <= base {
		return base, nil
	}
	from, to := max(base, 1), height+1-keep
	del := func(p byte, lo, hi uint64) {
		if lo < hi {
			_ = batch.DeleteRange(heightKey(p, lo), heightKey(p, hi), nil)
		}
	}
	del(pBody, from, to)
	del(pReceipt, from, to)
	changes, _, err := l.changeRecords(from, to)
	if err != nil {
		return 0, err
	}
	lo := from
	for _, k := range changes {
		h := heightOf(k)
		del(pHeader, lo, h)
		del(pCommit, lo, h)
		lo = h + 1
	}
	del(pHeader, lo, to)
	del(pCommit, lo, to)
	_ = batch.Set(keyBase, binary.BigEndian.AppendUint64(nil, to), nil)
	return to, nil
}

// RestoreDir is where a ledger that is to replace this one is restored
// (see Replace).
func (l *Ledger) RestoreDir() string { return l.dir + ".restore" }

// Replace swaps this ledger's store for the complete, closed ledger in
// RestoreDir (written by Restore): the old directory is renamed aside, the
// restored one into its place, then the old one is deleted. Open finishes
// a Replace cut off by a crash, so the directory holds either the old or
// the new ledger, never a mix. On error the old ledger is open again (or
// the new one, once in place); only if the old one cannot be moved back
// does the ledger stay closed, and the node must restart. Replace must not
// run concurrently with Commit; it waits for open StateSnapshots.
func (l *Ledger) Replace() error {
	for {
		l.swap.Lock()
		if l.snaps.Load() == 0 {
			break
		}
		l.swap.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	defer l.swap.Unlock()
	l.hot.reset()
	fs, old := l.opts.FS, l.dir+".old"
	if _, err := fs.Stat(l.RestoreDir()); err != nil {
		return fmt.Errorf("replace ledger: %w", err)
	}
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("replace ledger: close: %w", err)
	}
	reopen := func(cause error) error {
		db, err := openDB(l.dir, l.opts)
		if err == nil {
			err = l.loadHead(db)
		}
		if err != nil {
			return fmt.Errorf("replace ledger: %w; reopening: %w", cause, err)
		}
		l.db = db
		return cause
	}
	if err := fs.RemoveAll(old); err != nil {
		return reopen(err)
	}
	if err := fs.Rename(l.dir, old); err != nil {
		return reopen(fmt.Errorf("replace ledger: %w", err))
	}
	// From here a crash leaves the restored ledger: Open finishes.
	syncErr := syncParent(fs, l.dir)
	finErr := finishReplace(fs, l.dir)
	if _, err := fs.Stat(l.dir); err != nil {
		// The restored ledger is not in place: put the old one back.
		err = errors.Join(syncErr, finErr, err)
		if rerr := fs.Rename(old, l.dir); rerr != nil {
			return fmt.Errorf("replace ledger: %w; moving the old ledger back: %w (the ledger stays closed: restart the node)", err, rerr)
		}
		return reopen(fmt.Errorf("replace ledger: %w", err))
	}
	// In place; a leftover old directory is removed by the next Open.
	return reopen(nil)
}

// finishReplace completes or undoes a Replace cut off by a crash: a
// restored ledger next to a missing directory was complete (the old one
// is renamed aside only then) and moves into place; next to an existing
// directory it is an unfinished restore and is deleted. A renamed-aside
// old ledger is deleted.
func finishReplace(fs vfs.FS, dir string) error {
	restore, old := dir+".restore", dir+".old"
	if _, err := fs.Stat(restore); err == nil {
		if _, err := fs.Stat(dir); err == nil {
			if err := fs.RemoveAll(restore); err != nil {
				return err
			}
		} else {
			if err := fs.Rename(restore, dir); err != nil {
				return err
			}
			if err := syncParent(fs, dir); err != nil {
				return err
			}
		}
	}
	if _, err := fs.Stat(old); err == nil {
		return fs.RemoveAll(old)
	}
	return nil
}

// syncParent makes renames in dir's parent durable.
func syncParent(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(fs.PathDir(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
