package replica_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
)

// TestStateSync: a replica at genesis takes a lying peer's snapshot (it is
// refused and nothing changes), then a true one in place of its ledger,
// and continues with the chain's next block.
func TestStateSync(t *testing.T) {
	c := changed(t)
	var snap bytes.Buffer
	h, err := c.r.WriteSnapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.config(filepath.Join(t.TempDir(), "ledger"))
	r2, err := replica.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	good := snap.Bytes()
	lie := bytes.Clone(good)
	lie[len(lie)-10] ^= 1 // a state value the head's root does not hold
	for name, data := range map[string][]byte{"lying": lie, "truncated": good[:len(good)/2]} {
		if _, err := r2.StateSync(bytes.NewReader(data)); !errors.Is(err, replica.ErrBadSnapshot) {
			t.Fatalf("%s snapshot: %v", name, err)
		}
		if r2.Head().Height != 0 {
			t.Fatalf("%s snapshot moved the head to %d", name, r2.Head().Height)
		}
		if _, err := os.Stat(r2.Ledger().RestoreDir()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s snapshot left its restore behind: %v", name, err)
		}
	}
	committed := r2.Committed()
	if got, err := r2.StateSync(bytes.NewReader(good)); err != nil || got != h {
		t.Fatalf("state sync: %d, %v", got, err)
	}
	select {
	case <-committed:
	default:
		t.Fatal("state sync did not signal a new head")
	}
	if r2.Head() != c.r.Head() || r2.Base() != h {
		t.Fatalf("head %d base %d after state sync, want %d", r2.Head().Height, r2.Base(), h)
	}
	if _, a := r2.NextValidators(); a != func() [32]byte { _, b := c.r.NextValidators(); return b }() {
		t.Fatal("next validator set not reloaded")
	}
	// The same snapshot again is not past the head.
	if _, err := r2.StateSync(bytes.NewReader(good)); !errors.Is(err, replica.ErrBadSnapshot) {
		t.Fatalf("snapshot at the head: %v", err)
	}
	b := c.step(c.tx("v5", "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v3"}))
	if err := r2.Deliver(b); err != nil {
		t.Fatalf("next block after state sync: %v", err)
	}
	if r2.Head() != c.r.Head() {
		t.Fatal("heads differ after the next block")
	}
}
