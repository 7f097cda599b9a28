package raftlog

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	hraft "github.com/hashicorp/raft"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "raft"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func entry(i uint64) *hraft.Log {
	return &hraft.Log{Index: i, Term: i/3 + 1, Type: hraft.LogCommand, Data: []byte{byte(i), 1, 2}, Extensions: []byte("x"), AppendedAt: time.Unix(1_700_000_000, int64(i))}
}

func sameLog(a, b *hraft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && bytes.Equal(a.Data, b.Data) &&
		bytes.Equal(a.Extensions, b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

func indexes(t *testing.T, s *Store) (uint64, uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return f, l
}

// TestLogStoreContract follows what raft expects of a LogStore (the
// behaviour of its InmemStore and raft-boltdb): 0/0 when empty, entries read
// back exactly, ErrLogNotFound for missing ones, inclusive DeleteRange.
func TestLogStoreContract(t *testing.T) {
	s := open(t)
	if f, l := indexes(t, s); f != 0 || l != 0 {
		t.Fatalf("empty store: first %d last %d", f, l)
	}
	var got hraft.Log
	if err := s.GetLog(1, &got); !errors.Is(err, hraft.ErrLogNotFound) {
		t.Fatalf("missing log: %v", err)
	}
	if err := s.StoreLog(entry(1)); err != nil {
		t.Fatal(err)
	}
	var batch []*hraft.Log
	for i := uint64(2); i <= 10; i++ {
		batch = append(batch, entry(i))
	}
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	if f, l := indexes(t, s); f != 1 || l != 10 {
		t.Fatalf("first %d last %d, want 1 10", f, l)
	}
	for i := uint64(1); i <= 10; i++ {
		if err := s.GetLog(i, &got); err != nil || !sameLog(&got, entry(i)) {
			t.Fatalf("log %d: %v %+v", i, err, got)
		}
	}
	// Zero-valued fields round-trip as zero values.
	if err := s.StoreLog(&hraft.Log{Index: 11, Type: hraft.LogNoop}); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(11, &got); err != nil || got.Data != nil || !got.AppendedAt.IsZero() || got.Type != hraft.LogNoop {
		t.Fatalf("noop: %v %+v", err, got)
	}
	// Overwrite (a follower truncating a conflicting suffix rewrites it).
	over := entry(11)
	over.Term = 99
	if err := s.StoreLog(over); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(11, &got); err != nil || got.Term != 99 {
		t.Fatalf("overwritten log: %v %+v", err, got)
	}
	for _, c := range []struct {
		min, max    uint64
		first, last uint64
	}{
		{1, 3, 4, 11},  // compaction from the front
		{9, 11, 4, 8},  // truncation of a suffix
		{8, 7, 4, 8},   // empty range: nothing
		{4, 8, 0, 0},   // everything
		{1, 100, 0, 0}, // beyond the ends
	} {
		if err := s.DeleteRange(c.min, c.max); err != nil {
			t.Fatal(err)
		}
		if f, l := indexes(t, s); f != c.first || l != c.last {
			t.Fatalf("after DeleteRange(%d, %d): first %d last %d, want %d %d", c.min, c.max, f, l, c.first, c.last)
		}
	}
	if err := s.StoreLog(entry(math.MaxUint64)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(5, math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	if _, l := indexes(t, s); l != 0 {
		t.Fatalf("DeleteRange to MaxUint64 left %d", l)
	}
}

func TestLogStoreRejects(t *testing.T) {
	s := open(t)
	for _, c := range []struct {
		name string
		l    *hraft.Log
		want error
	}{
		{"index 0", &hraft.Log{}, ErrInvalid},
		{"data too large", &hraft.Log{Index: 1, Data: make([]byte, MaxData+1)}, ErrTooLarge},
		{"extensions too large", &hraft.Log{Index: 1, Extensions: make([]byte, MaxExtensions+1)}, ErrTooLarge},
	} {
		if err := s.StoreLogs([]*hraft.Log{entry(5), c.l}); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A failed batch writes nothing.
	if _, l := indexes(t, s); l != 0 {
		t.Fatalf("failed batch left entries up to %d", l)
	}
}

func TestStableStore(t *testing.T) {
	s := open(t)
	if v, err := s.Get([]byte("CurrentTerm")); err != nil || len(v) != 0 {
		t.Fatalf("missing key: %q %v", v, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 0 {
		t.Fatalf("missing uint: %d %v", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "v2" {
		t.Fatalf("get: %q %v", v, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<40+7); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+7 {
		t.Fatalf("uint: %d %v", v, err)
	}
	// Stable keys and log keys do not collide.
	if err := s.Set([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, l := indexes(t, s); l != 0 {
		t.Fatalf("stable key seen as log %d", l)
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("2-byte value as uint64: %v", err)
	}
	for _, c := range []struct {
		k, v []byte
		want error
	}{
		{nil, []byte("x"), ErrInvalid},
		{make([]byte, MaxStableKey+1), nil, ErrInvalid},
		{[]byte("k"), make([]byte, MaxStableValue+1), ErrTooLarge},
	} {
		if err := s.Set(c.k, c.v); !errors.Is(err, c.want) {
			t.Errorf("Set(%d-byte key, %d-byte value): %v, want %v", len(c.k), len(c.v), err, c.want)
		}
	}
}

func TestReopenAndClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "raft")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs([]*hraft.Log{entry(3), entry(4)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 5); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.StoreLog(entry(5)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, l := indexes(t, s); f != 3 || l != 4 {
		t.Fatalf("reopened: first %d last %d", f, l)
	}
	if v, _ := s.GetUint64([]byte("CurrentTerm")); v != 5 {
		t.Fatalf("reopened term %d", v)
	}
}

// TestCorruptEntries: damaged stored bytes are ErrCorrupt, not garbage.
func TestCorruptEntries(t *testing.T) {
	s := open(t)
	good, err := EncodeLog(entry(7))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := EncodeLog(entry(8))
	for _, c := range []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-2]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"unknown type", func() []byte { b := append([]byte(nil), good...); b[3] = 200; return b }()},
		{"wrong index", other},
	} {
		if err := s.db(func(db *pebble.DB) error { return db.Set(logKey(7), c.v, pebble.Sync) }); err != nil {
			t.Fatal(err)
		}
		var l hraft.Log
		if err := s.GetLog(7, &l); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", c.name, err)
		}
	}
}

// FuzzDecodeLog: the stored-entry decoder never panics, and whatever it
// accepts re-encodes to the same bytes (one encoding per entry).
func FuzzDecodeLog(f *testing.F) {
	for _, l := range []*hraft.Log{entry(1), {Index: 2, Type: hraft.LogNoop}, {Index: 3, Type: hraft.LogConfiguration, Data: []byte("cfg")}} {
		b, _ := EncodeLog(l)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLog(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		again, err := EncodeLog(l)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}
