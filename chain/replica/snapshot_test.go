package replica_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
)

func (c *cluster) config(dir string) replica.Config {
	m, err := module.Configure(valset.Module{}, module.Env{ChainID: c.g.ChainID, Suite: suite, Validators: &c.g.Validators})
	if err != nil {
		c.t.Fatal(err)
	}
	reg, err := module.NewRegistry(m)
	if err != nil {
		c.t.Fatal(err)
	}
	return replica.Config{Genesis: c.g, Suite: suite, Registry: reg, Dir: dir}
}

// changed returns a cluster whose set changed from v1..v4 to v1..v5 and
// whose head block decides the removal of v4 (so the head itself carries
// a change).
func changed(t testing.TB) *cluster {
	c := newCluster(t, 4)
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v5", PubKey: hex.EncodeToString(c.keys["v5"].Public().Bytes()), Addr: "127.0.0.5:7000"}
	id := c.event(c.step(c.tx("v1", "propose", add)), "proposal")
	c.step(c.tx("v2", "vote", valset.VoteArgs{Proposal: id}), c.tx("v3", "vote", valset.VoteArgs{Proposal: id}))
	rm := c.event(c.step(c.tx("v5", "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v4"})), "proposal")
	c.step(c.tx("v2", "vote", valset.VoteArgs{Proposal: rm}), c.tx("v3", "vote", valset.VoteArgs{Proposal: rm}))
	c.step(c.tx("v1", "vote", valset.VoteArgs{Proposal: rm}))
	if vs, _ := c.r.NextValidators(); len(vs.Validators) != 4 || vs.Index("v4") >= 0 {
		t.Fatalf("set after removal: %+v", vs)
	}
	return c
}

func TestSnapshotRestoreContinues(t *testing.T) {
	c := changed(t)
	var snap bytes.Buffer
	h, err := c.r.WriteSnapshot(&snap)
	if err != nil || h != c.r.Head().Height {
		t.Fatalf("snapshot at %d (head %d): %v", h, c.r.Head().Height, err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	cfg := c.config(dir)
	got, err := replica.RestoreSnapshot(cfg, bytes.NewReader(snap.Bytes()))
	if err != nil || got != h {
		t.Fatalf("restore: %d, %v", got, err)
	}
	r2, err := replica.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.Head() != c.r.Head() {
		t.Fatal("restored head differs")
	}
	if _, a := r2.NextValidators(); a != func() [32]byte { _, b := c.r.NextValidators(); return b }() {
		t.Fatal("restored next validator set differs")
	}
	if _, err := r2.Block(h - 1); err == nil {
		t.Fatal("restored ledger claims a block below its base")
	}
	// Both continue with the same block.
	b := c.step(c.tx("v5", "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v3"}))
	if err := r2.Deliver(b); err != nil {
		t.Fatalf("restored replica refuses the next block: %v", err)
	}
	if r2.Head() != c.r.Head() {
		t.Fatal("heads differ after the next block")
	}
	// Bundles from the restored node still lead from the genesis set.
	p, err := r2.TxProof(b.Txs[0].ID(suite))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(p.Bundle, proof.Options{TrustedValidators: c.g.Validators.Hash(suite)}); err != nil {
		t.Fatalf("bundle from the restored node: %v", err)
	}
}

func TestSnapshotRefusals(t *testing.T) {
	c := changed(t)
	var snap bytes.Buffer
	if _, err := c.r.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	good := snap.Bytes()
	// Another chain: a light client (and a restoring node) knows a chain
	// by its ID and validator set; the genesis document itself is not in
	// any certified header.
	other := *c.g
	other.ChainID = "justice"
	flipLast := bytes.Clone(good)
	flipLast[len(flipLast)-10] ^= 1 // inside the last state value
	cases := map[string]struct {
		data []byte
		g    *chain.Genesis
	}{
		"empty":            {nil, c.g},
		"not a snapshot":   {[]byte("hello"), c.g},
		"truncated":        {good[:len(good)-5], c.g},
		"trailing data":    {append(bytes.Clone(good), 0), c.g},
		"flipped state":    {flipLast, c.g},
		"flipped head":     {flipAt(good, 40), c.g},
		"another chain":    {good, &other},
		"cut in the entry": {good[:len(good)-40], c.g},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cc := *c
			cc.g = tc.g
			dir := filepath.Join(t.TempDir(), "restored")
			if _, err := replica.RestoreSnapshot(cc.config(dir), bytes.NewReader(tc.data)); !errors.Is(err, replica.ErrBadSnapshot) {
				t.Fatalf("got %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("failed restore left %s behind (%v)", dir, err)
			}
		})
	}
	// A non-empty directory is refused before anything is read.
	if _, err := replica.RestoreSnapshot(c.config(c.dir), bytes.NewReader(good)); err == nil {
		t.Fatal("restored over an existing ledger")
	}
}

func flipAt(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x40
	return out
}

func FuzzRestoreSnapshot(f *testing.F) {
	c := changed(f)
	var snap bytes.Buffer
	if _, err := c.r.WriteSnapshot(&snap); err != nil {
		f.Fatal(err)
	}
	f.Add(snap.Bytes())
	f.Add(snap.Bytes()[:200])
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "r")
		if _, err := replica.RestoreSnapshot(c.config(dir), bytes.NewReader(data)); err != nil && !errors.Is(err, replica.ErrBadSnapshot) {
			t.Fatalf("error %v does not wrap ErrBadSnapshot", err)
		}
	})
}
