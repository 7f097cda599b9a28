package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

// TestSetDirPerIncarnation: each set, and each return of a set, gets a
// directory of its own; the others are removed.
func TestSetDirPerIncarnation(t *testing.T) {
	base := t.TempDir()
	genesis, other := crypto.Hash{1}, crypto.Hash{2}
	mk := func(hash crypto.Hash, from uint64) string {
		t.Helper()
		d, err := setDir(base, "raft", hash, from, genesis)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(d, "log"), 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := mk(genesis, 1)
	if filepath.Base(first) != "raft" {
		t.Fatalf("genesis set's directory %s", first)
	}
	b := mk(other, 10)
	again := mk(genesis, 20) // the genesis set returns: a new cluster
	if again == first || again == b {
		t.Fatalf("a returning set reuses %s", again)
	}
	for _, d := range []string{first, b} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("%s kept: %v", d, err)
		}
	}
	if d := mk(genesis, 20); d != again {
		t.Fatalf("the same incarnation moved from %s to %s", again, d)
	}
	if _, err := os.Stat(filepath.Join(again, "log")); err != nil {
		t.Fatalf("the running incarnation's state was removed: %v", err)
	}
}
