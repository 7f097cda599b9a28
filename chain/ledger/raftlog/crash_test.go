package raftlog

import (
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	hraft "github.com/hashicorp/raft"
)

// TestCrashKeepsSyncedWrites simulates power loss with pebble's crashable
// memory filesystem: after every synced write a crash clone (keeping 0, 50 or
// 100 % of unsynced data) must hold every log batch and term written so far,
// whole, and nothing that was deleted before the clone.
func TestCrashKeepsSyncedWrites(t *testing.T) {
	const seed = 7
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	fs := vfs.NewCrashableMem()
	s, err := Open("raft", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var first, last, term uint64 = 1, 0, 0
	for step := 0; step < 40; step++ {
		switch rng.IntN(4) {
		case 0: // compaction from the front
			if last >= first+2 {
				upto := first + uint64(rng.IntN(int(last-first)))
				if err := s.DeleteRange(first, upto); err != nil {
					t.Fatal(err)
				}
				first = upto + 1
			}
		case 1:
			term++
			if err := s.SetUint64([]byte("CurrentTerm"), term); err != nil {
				t.Fatal(err)
			}
		default:
			n := 1 + rng.IntN(8)
			var batch []*hraft.Log
			for i := 0; i < n; i++ {
				l := entry(last + 1 + uint64(i))
				l.Data = make([]byte, rng.IntN(4096))
				batch = append(batch, l)
			}
			if err := s.StoreLogs(batch); err != nil {
				t.Fatal(err)
			}
			last += uint64(n)
		}
		for _, p := range []int{0, 50, 100} {
			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rand.New(rand.NewPCG(seed, uint64(step)))})
			c, err := Open("raft", Options{FS: clone})
			if err != nil {
				t.Fatalf("step %d, %d%%: reopen: %v", step, p, err)
			}
			f, l := indexes(t, c)
			if last >= first && (f != first || l != last) {
				t.Fatalf("step %d, %d%%: log %d..%d after crash, want %d..%d", step, p, f, l, first, last)
			}
			for i := f; i <= l && l != 0; i++ {
				var got hraft.Log
				if err := c.GetLog(i, &got); err != nil || got.Index != i {
					t.Fatalf("step %d: log %d after crash: %v", step, i, err)
				}
			}
			if v, err := c.GetUint64([]byte("CurrentTerm")); err != nil || v != term {
				t.Fatalf("step %d: term %d after crash (%v), want %d", step, v, err, term)
			}
			c.Close()
		}
	}
}
