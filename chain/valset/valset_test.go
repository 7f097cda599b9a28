package valset_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec/exectest"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/valset"
)

var suite = ed25519sha256.New()

// newChain runs valset on a chain whose genesis set is v1..vn, each
// validator's key being the exectest sender of the same name.
func newChain(t *testing.T, n int) (*exectest.Chain, *chain.ValidatorSet) {
	t.Helper()
	probe := exectest.New(t, suite, "c")
	vs := &chain.ValidatorSet{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("v%d", i)
		vs.Validators = append(vs.Validators, chain.Validator{ID: id, PubKey: probe.Key(id).Public().Bytes()})
	}
	m, err := module.Configure(valset.Module{}, module.Env{ChainID: "c", Suite: suite, Validators: vs})
	if err != nil {
		t.Fatal(err)
	}
	return exectest.New(t, suite, "c", m), vs
}

func current(t *testing.T, c *exectest.Chain, genesis *chain.ValidatorSet) *chain.ValidatorSet {
	t.Helper()
	vs, err := valset.Current(c.Get, genesis)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func ids(vs *chain.ValidatorSet) string {
	var out []string
	for _, v := range vs.Validators {
		out = append(out, v.ID)
	}
	return strings.Join(out, ",")
}

func proposalOf(t *testing.T, c *exectest.Chain) string {
	t.Helper()
	for _, e := range c.Receipt.Events {
		for _, a := range e.Attrs {
			if a.Key == "proposal" {
				return a.Value
			}
		}
	}
	t.Fatalf("no proposal in events %+v", c.Receipt.Events)
	return ""
}

func TestAddNeedsQuorumThenApplies(t *testing.T) {
	c, genesis := newChain(t, 4) // quorum 3
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v5", PubKey: hex.EncodeToString(c.Key("v5").Public().Bytes()), Addr: "127.0.0.5:26656"}
	c.Must("v1", valset.Name, "propose", add)
	id := proposalOf(t, c)
	c.Must("v2", valset.Name, "vote", valset.VoteArgs{Proposal: id})
	if got := ids(current(t, c, genesis)); got != "v1,v2,v3,v4" {
		t.Fatalf("set changed after 2 of 4 votes: %s", got)
	}
	c.Refused(valset.ErrVoted, "v2", valset.Name, "vote", valset.VoteArgs{Proposal: id})
	c.Refused(valset.ErrNotVoter, "outsider", valset.Name, "vote", valset.VoteArgs{Proposal: id})
	h := c.Height
	c.Must("v4", valset.Name, "vote", valset.VoteArgs{Proposal: id})
	if got := ids(current(t, c, genesis)); got != "v1,v2,v3,v4,v5" {
		t.Fatalf("after quorum: %s", got)
	}
	ev := c.Receipt.Events[len(c.Receipt.Events)-1]
	if ev.Type != "valset.changed" || ev.Attrs[len(ev.Attrs)-1].Value != fmt.Sprint(h+1) {
		t.Fatalf("event %+v (vote at height %d)", ev, h)
	}
	if a := c.State[string(valset.AddrKey("v5"))]; string(a) != add.Addr {
		t.Fatalf("addr %q", a)
	}
	// The applied proposal is gone; the new set needs 4 of 5 and v5 votes.
	c.Refused(valset.ErrUnknownProp, "v3", valset.Name, "vote", valset.VoteArgs{Proposal: id})
	c.Must("v5", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v1"})
	rm := proposalOf(t, c)
	for _, v := range []string{"v2", "v3"} {
		c.Must(v, valset.Name, "vote", valset.VoteArgs{Proposal: rm})
	}
	if got := ids(current(t, c, genesis)); got != "v1,v2,v3,v4,v5" {
		t.Fatalf("removed with 3 of 5: %s", got)
	}
	c.Must("v1", valset.Name, "vote", valset.VoteArgs{Proposal: rm}) // v1 may vote itself out
	if got := ids(current(t, c, genesis)); got != "v2,v3,v4,v5" {
		t.Fatalf("after removal: %s", got)
	}
	if _, ok := c.State[string(valset.AddrKey("v1"))]; ok {
		t.Fatal("removed validator's addr kept")
	}
	c.Refused(valset.ErrNotVoter, "v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v2"})
}

func TestStaleProposalRefused(t *testing.T) {
	c, genesis := newChain(t, 4)
	key := func(n string) string { return hex.EncodeToString(c.Key(n).Public().Bytes()) }
	c.Must("v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpAdd, ID: "x", PubKey: key("x"), Addr: "h:1"})
	stale := proposalOf(t, c)
	c.Must("v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpAdd, ID: "y", PubKey: key("y"), Addr: "h:2"})
	fresh := proposalOf(t, c)
	c.Must("v2", valset.Name, "vote", valset.VoteArgs{Proposal: fresh})
	c.Must("v3", valset.Name, "vote", valset.VoteArgs{Proposal: fresh})
	if got := ids(current(t, c, genesis)); got != "v1,v2,v3,v4,y" {
		t.Fatalf("set %s", got)
	}
	c.Refused(valset.ErrUnknownProp, "v2", valset.Name, "vote", valset.VoteArgs{Proposal: stale})
}

func TestSingleValidatorAppliesAtOnce(t *testing.T) {
	c, genesis := newChain(t, 1)
	c.Must("v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpAdd, ID: "v2", PubKey: hex.EncodeToString(c.Key("v2").Public().Bytes()), Addr: "[::1]:9000"})
	if got := ids(current(t, c, genesis)); got != "v1,v2" {
		t.Fatalf("set %s", got)
	}
}

func TestBadProposals(t *testing.T) {
	c, _ := newChain(t, 4)
	pk := hex.EncodeToString(c.Key("n").Public().Bytes())
	v1 := hex.EncodeToString(c.Key("v1").Public().Bytes())
	for _, a := range map[string]any{
		"unknown op":     valset.ProposeArgs{Op: "swap", ID: "n"},
		"bad id":         valset.ProposeArgs{Op: valset.OpAdd, ID: "a b", PubKey: pk, Addr: "h:1"},
		"id taken":       valset.ProposeArgs{Op: valset.OpAdd, ID: "v2", PubKey: pk, Addr: "h:1"},
		"key taken":      valset.ProposeArgs{Op: valset.OpAdd, ID: "n", PubKey: v1, Addr: "h:1"},
		"bad key":        valset.ProposeArgs{Op: valset.OpAdd, ID: "n", PubKey: "abcd", Addr: "h:1"},
		"no addr":        valset.ProposeArgs{Op: valset.OpAdd, ID: "n", PubKey: pk},
		"no port":        valset.ProposeArgs{Op: valset.OpAdd, ID: "n", PubKey: pk, Addr: "h"},
		"port zero":      valset.ProposeArgs{Op: valset.OpAdd, ID: "n", PubKey: pk, Addr: "h:0"},
		"remove unknown": valset.ProposeArgs{Op: valset.OpRemove, ID: "n"},
		"remove w/ key":  valset.ProposeArgs{Op: valset.OpRemove, ID: "v2", PubKey: pk},
		"unknown field":  exectest.Raw(`{"op":"remove","id":"v2","x":1}`),
	} {
		c.Refused(valset.ErrBadArgs, "v1", valset.Name, "propose", a)
	}
	c.Must("v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v2"})
	c.Refused(valset.ErrBadArgs, "v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v2"})
	last, _ := newChain(t, 1)
	last.Refused(valset.ErrBadArgs, "v1", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v1"})
}

func TestConfigure(t *testing.T) {
	if _, err := module.Configure(valset.Module{}, module.Env{Suite: suite}); !errors.Is(err, module.ErrParams) {
		t.Fatalf("no genesis set: %v", err)
	}
}

// TestCrashFaultOnlyChange: a crash-fault-only (Raft) set changes with a
// majority of its validators and stays crash-fault-only.
func TestCrashFaultOnlyChange(t *testing.T) {
	probe := exectest.New(t, suite, "c")
	vs := &chain.ValidatorSet{CrashFaultOnly: true}
	for _, id := range []string{"v1", "v2", "v3"} {
		vs.Validators = append(vs.Validators, chain.Validator{ID: id, PubKey: probe.Key(id).Public().Bytes()})
	}
	m, err := module.Configure(valset.Module{}, module.Env{ChainID: "c", Suite: suite, Validators: vs})
	if err != nil {
		t.Fatal(err)
	}
	c := exectest.New(t, suite, "c", m)
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v4", PubKey: hex.EncodeToString(c.Key("v4").Public().Bytes()), Addr: "127.0.0.4:26656"}
	c.Must("v1", valset.Name, "propose", add)
	c.Must("v2", valset.Name, "vote", valset.VoteArgs{Proposal: proposalOf(t, c)}) // 2 of 3
	next := current(t, c, vs)
	if got := ids(next); got != "v1,v2,v3,v4" || !next.CrashFaultOnly || next.Quorum() != 3 {
		t.Fatalf("after a majority: %s crash-fault-only=%v quorum %d", got, next.CrashFaultOnly, next.Quorum())
	}
	c.Must("v4", valset.Name, "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v1"})
	rm := proposalOf(t, c)
	c.Must("v2", valset.Name, "vote", valset.VoteArgs{Proposal: rm})
	if got := ids(current(t, c, vs)); got != "v1,v2,v3,v4" {
		t.Fatalf("removed with 2 of 4: %s", got)
	}
	c.Must("v3", valset.Name, "vote", valset.VoteArgs{Proposal: rm})
	if got := ids(current(t, c, vs)); got != "v2,v3,v4" {
		t.Fatalf("after removal: %s", got)
	}
}
