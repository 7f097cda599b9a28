package transfer_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/exec/exectest"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/domains/transfer"
)

var suite = ed25519sha256.New()

func newChain(t *testing.T) *exectest.Chain {
	t.Helper()
	probe := exectest.New(t, suite, "test")
	m, err := module.Configure(transfer.Module{}, module.Env{ChainID: "test", Suite: suite,
		Params: map[string]json.RawMessage{transfer.Name: transfer.MarshalParams(probe.Addr("treasury"))}})
	if err != nil {
		t.Fatal(err)
	}
	return exectest.New(t, suite, "test", m)
}

func balance(t *testing.T, c *exectest.Chain, name string) uint64 {
	t.Helper()
	n, err := transfer.DecodeBalance(c.State[string(transfer.StateKey(c.Addr(name)))])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMintAndSend(t *testing.T) {
	c := newChain(t)
	c.Must("treasury", transfer.Name, "mint", transfer.MintArgs{To: c.Addr("alice").String(), Amount: 100})
	c.Must("alice", transfer.Name, "send", transfer.SendArgs{To: c.Addr("bob").String(), Amount: 30})
	c.Must("alice", transfer.Name, "send", transfer.SendArgs{To: c.Addr("alice").String(), Amount: 70}) // to self
	if a, b := balance(t, c, "alice"), balance(t, c, "bob"); a != 70 || b != 30 {
		t.Fatalf("alice %d, bob %d", a, b)
	}
	c.Must("alice", transfer.Name, "send", transfer.SendArgs{To: c.Addr("bob").String(), Amount: 70})
	if _, present := c.State[string(transfer.StateKey(c.Addr("alice")))]; present {
		t.Fatal("an empty balance left a key behind")
	}
	if ev := c.Receipt.Events; len(ev) != 1 || ev[0].Type != "sent" {
		t.Fatalf("events %+v", ev)
	}
}

func TestRefusals(t *testing.T) {
	c := newChain(t)
	bob := c.Addr("bob").String()
	c.Must("treasury", transfer.Name, "mint", transfer.MintArgs{To: c.Addr("alice").String(), Amount: 10})
	tests := []struct {
		name, sender, method string
		args                 any
		want                 error
	}{
		{"mint by a non-minter", "alice", "mint", transfer.MintArgs{To: bob, Amount: 1}, transfer.ErrNotMinter},
		{"overdraw", "alice", "send", transfer.SendArgs{To: bob, Amount: 11}, transfer.ErrInsufficient},
		{"empty account", "carol", "send", transfer.SendArgs{To: bob, Amount: 1}, transfer.ErrInsufficient},
		{"zero amount", "alice", "send", transfer.SendArgs{To: bob, Amount: 0}, transfer.ErrBadArgs},
		{"bad address", "alice", "send", transfer.SendArgs{To: "bob", Amount: 1}, transfer.ErrBadArgs},
		{"unknown field", "alice", "send", exectest.Raw(`{"to":"` + bob + `","amount":1,"x":1}`), transfer.ErrBadArgs},
		{"trailing data", "alice", "send", exectest.Raw(`{"to":"` + bob + `","amount":1}}`), transfer.ErrBadArgs},
		{"negative amount", "alice", "send", exectest.Raw(`{"to":"` + bob + `","amount":-1}`), transfer.ErrBadArgs},
		{"mint overflow", "treasury", "mint", transfer.MintArgs{To: c.Addr("alice").String(), Amount: math.MaxUint64}, transfer.ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Refused(tc.want, tc.sender, transfer.Name, tc.method, tc.args)
		})
	}
	if balance(t, c, "alice") != 10 || balance(t, c, "bob") != 0 {
		t.Fatal("a refused call changed balances")
	}
}

func TestConfigure(t *testing.T) {
	for _, raw := range []string{`{"minters":["nothex"]}`, `{"minters":[],"x":1}`, `[]`, `{"minters":[]}}`} {
		_, err := module.Configure(transfer.Module{}, module.Env{Suite: suite, Params: map[string]json.RawMessage{transfer.Name: json.RawMessage(raw)}})
		if !errors.Is(err, module.ErrParams) {
			t.Errorf("params %s: %v", raw, err)
		}
	}
	many := make([]chain.Address, transfer.MaxMinters+1)
	for i := range many {
		many[i][0] = byte(i)
	}
	if _, err := module.Configure(transfer.Module{}, module.Env{Suite: suite, Params: map[string]json.RawMessage{transfer.Name: transfer.MarshalParams(many...)}}); !errors.Is(err, module.ErrParams) {
		t.Errorf("%d minters: %v", len(many), err)
	}
	// Without parameters nobody can mint.
	m, err := module.Configure(transfer.Module{}, module.Env{Suite: suite})
	if err != nil {
		t.Fatal(err)
	}
	c := exectest.New(t, suite, "test", m)
	c.Refused(transfer.ErrNotMinter, "treasury", transfer.Name, "mint", transfer.MintArgs{To: c.Addr("a").String(), Amount: 1})
}

func FuzzSendArgs(f *testing.F) {
	f.Add([]byte(`{"to":"0000000000000000000000000000000000000000","amount":1}`))
	f.Add([]byte(`{"to":"","amount":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, args []byte) {
		c := newChain(t)
		c.Must("treasury", transfer.Name, "mint", transfer.MintArgs{To: c.Addr("alice").String(), Amount: 1000})
		err := c.Call("alice", transfer.Name, "send", exectest.Raw(args))
		total := balance(t, c, "alice")
		var a transfer.SendArgs
		if err == nil {
			if json.Unmarshal(args, &a) != nil {
				t.Fatal("accepted args that do not decode")
			}
			to, _ := chain.ParseAddress(a.To)
			if to != c.Addr("alice") {
				n, _ := transfer.DecodeBalance(c.State[string(transfer.StateKey(to))])
				total += n
			}
		}
		if total != 1000 {
			t.Fatal(fmt.Sprint("units created or destroyed: ", total))
		}
	})
}
