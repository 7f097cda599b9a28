// Package raftlog stores a hashicorp/raft log and its stable values (current
// term, vote) in a Pebble database of their own, so a node runs one storage
// engine. Every write that raft relies on for safety (StoreLogs, Set,
// SetUint64, DeleteRange) is synced before it returns. Stored entries are
// decoded strictly; a damaged entry is reported as ErrCorrupt, never
// returned half-read.
package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	hraft "github.com/hashicorp/raft"
)

// Limits on what the store accepts.
const (
	// MaxData bounds a log entry's Data (a block proposal fits a consensus
	// message, 16 MiB).
	MaxData = 16 << 20
	// MaxExtensions bounds a log entry's Extensions.
	MaxExtensions = 64 << 10
	// MaxStableKey and MaxStableValue bound StableStore entries.
	MaxStableKey   = 256
	MaxStableValue = 1 << 20
)

// Errors from the store.
var (
	// ErrCorrupt wraps every stored entry that does not decode.
	ErrCorrupt = errors.New("raftlog: corrupt entry")
	// ErrTooLarge is returned for writes beyond the limits above.
	ErrTooLarge = errors.New("raftlog: entry too large")
	// ErrInvalid is returned for writes raft never makes (index 0, empty key).
	ErrInvalid = errors.New("raftlog: invalid write")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("raftlog: closed")
)

// Key layout: one prefix byte, then for logs the big-endian index, so
// Pebble's order is log order.
const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'
)

// Options for Open.
type Options struct {
	FS vfs.FS // nil: the OS filesystem; tests pass vfs.NewCrashableMem()
}

// Store is a raft.LogStore and raft.StableStore. It is safe for concurrent use.
type Store struct {
	mu struct {
		sync.RWMutex
		db *pebble.DB // nil after Close
	}
}

var (
	_ hraft.LogStore          = (*Store)(nil)
	_ hraft.StableStore       = (*Store)(nil)
	_ hraft.MonotonicLogStore = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{FS: o.FS, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("raftlog: open %s: %w", dir, err)
	}
	s := &Store{}
	s.mu.db = db
	return s, nil
}

// Close closes the database. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.db == nil {
		return nil
	}
	err := s.mu.db.Close()
	s.mu.db = nil
	return err
}

// IsMonotonic tells raft this store holds no gaps: after a snapshot is
// restored, raft deletes the whole log rather than leaving a gap.
func (s *Store) IsMonotonic() bool { return true }

func logKey(i uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], i)
	return k
}

func stableKey(k []byte) []byte { return append([]byte{prefixStable}, k...) }

// db runs f with the database under the read lock (Close waits for it).
func (s *Store) db(f func(db *pebble.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.db == nil {
		return ErrClosed
	}
	return f(s.mu.db)
}

// FirstIndex implements raft.LogStore.
func (s *Store) FirstIndex() (uint64, error) { return s.edge(true) }

// LastIndex implements raft.LogStore.
func (s *Store) LastIndex() (uint64, error) { return s.edge(false) }

func (s *Store) edge(first bool) (uint64, error) {
	var idx uint64
	err := s.db(func(db *pebble.DB) error {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
		if err != nil {
			return err
		}
		ok := false
		if first {
			ok = it.First()
		} else {
			ok = it.Last()
		}
		if ok {
			k := it.Key()
			if len(k) != 9 {
				it.Close()
				return fmt.Errorf("%w: log key of %d bytes", ErrCorrupt, len(k))
			}
			idx = binary.BigEndian.Uint64(k[1:])
		}
		return it.Close()
	})
	return idx, err
}

// GetLog implements raft.LogStore; a missing entry is raft.ErrLogNotFound.
func (s *Store) GetLog(index uint64, l *hraft.Log) error {
	return s.db(func(db *pebble.DB) error {
		v, closer, err := db.Get(logKey(index))
		if errors.Is(err, pebble.ErrNotFound) {
			return hraft.ErrLogNotFound
		}
		if err != nil {
			return err
		}
		defer closer.Close()
		got, err := DecodeLog(v)
		if err != nil {
			return fmt.Errorf("log %d: %w", index, err)
		}
		if got.Index != index {
			return fmt.Errorf("%w: log %d holds index %d", ErrCorrupt, index, got.Index)
		}
		*l = *got
		return nil
	})
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(l *hraft.Log) error { return s.StoreLogs([]*hraft.Log{l}) }

// StoreLogs writes entries in one synced batch: all or none survive a crash.
func (s *Store) StoreLogs(logs []*hraft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	return s.db(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		for _, l := range logs {
			if l.Index == 0 {
				return fmt.Errorf("%w: log index 0", ErrInvalid)
			}
			v, err := EncodeLog(l)
			if err != nil {
				return err
			}
			if err := b.Set(logKey(l.Index), v, nil); err != nil {
				return err
			}
		}
		return b.Commit(pebble.Sync)
	})
}

// DeleteRange implements raft.LogStore: entries min..max inclusive go, synced.
func (s *Store) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	end := []byte{prefixLog + 1}
	if max < math.MaxUint64 {
		end = logKey(max + 1)
	}
	return s.db(func(db *pebble.DB) error {
		return db.DeleteRange(logKey(min), end, pebble.Sync)
	})
}

// Set implements raft.StableStore (synced).
func (s *Store) Set(key, val []byte) error {
	if len(key) == 0 || len(key) > MaxStableKey {
		return fmt.Errorf("%w: stable key of %d bytes", ErrInvalid, len(key))
	}
	if len(val) > MaxStableValue {
		return fmt.Errorf("%w: stable value of %d bytes", ErrTooLarge, len(val))
	}
	return s.db(func(db *pebble.DB) error { return db.Set(stableKey(key), val, pebble.Sync) })
}

// Get implements raft.StableStore: a missing key gives an empty value and no error.
func (s *Store) Get(key []byte) ([]byte, error) {
	if len(key) == 0 || len(key) > MaxStableKey {
		return nil, fmt.Errorf("%w: stable key of %d bytes", ErrInvalid, len(key))
	}
	var out []byte
	err := s.db(func(db *pebble.DB) error {
		v, closer, err := db.Get(stableKey(key))
		if errors.Is(err, pebble.ErrNotFound) {
			out = []byte{}
			return nil
		}
		if err != nil {
			return err
		}
		defer closer.Close()
		if len(v) > MaxStableValue {
			return fmt.Errorf("%w: stable value %q of %d bytes", ErrCorrupt, key, len(v))
		}
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// SetUint64 implements raft.StableStore (8 bytes big-endian, synced).
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore: a missing key is 0; a value that
// is not 8 bytes is ErrCorrupt.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("%w: uint64 %q of %d bytes", ErrCorrupt, key, len(v))
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
