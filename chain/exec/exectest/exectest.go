// Package exectest runs module calls through the real serial executor for
// module tests: named senders with deterministic keys, one transaction per
// block, state kept in memory.
package exectest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/module"
)

// Chain is an in-memory chain executing one transaction per block.
type Chain struct {
	T     testing.TB
	ID    string
	Suite crypto.Suite
	// Height is the next block's; its time is Height*1000 ms. Each call
	// advances it when Advance is set, else tests move it themselves.
	Height  uint64
	Advance bool
	State   map[string][]byte
	exe     *exec.Serial
	keys    map[string]crypto.PrivateKey
	nonces  map[string]uint64
	Receipt *chain.Receipt // of the last call
}

// New returns a chain at height 1 running mods, advancing a height per call.
func New(t testing.TB, s crypto.Suite, chainID string, mods ...module.Module) *Chain {
	reg, err := module.NewRegistry(mods...)
	if err != nil {
		t.Fatal(err)
	}
	return &Chain{T: t, ID: chainID, Suite: s, Height: 1, State: map[string][]byte{},
		Advance: true, exe: exec.NewSerial(exec.Config{Suite: s, Registry: reg}), keys: map[string]crypto.PrivateKey{}, nonces: map[string]uint64{}}
}

// Get implements exec.State.
func (c *Chain) Get(k []byte) ([]byte, error) { return c.State[string(k)], nil }

// Key returns the named sender's key, derived from the name.
func (c *Chain) Key(name string) crypto.PrivateKey {
	if k, ok := c.keys[name]; ok {
		return k
	}
	seed := c.Suite.Hash([]byte("exectest/" + name))
	k, err := c.Suite.PrivateKey(seed[:32])
	if err != nil {
		c.T.Fatal(err)
	}
	c.keys[name] = k
	return k
}

// Addr returns the named sender's address.
func (c *Chain) Addr(name string) chain.Address {
	return chain.AddressOf(c.Suite, c.Key(name).Public().Bytes())
}

// Raw arguments are sent as they are, not JSON-encoded.
type Raw []byte

// Call runs one transaction from sender in its own block and returns the
// receipt's error (nil when it succeeded).
func (c *Chain) Call(sender, mod, method string, args any) error {
	c.T.Helper()
	b, ok := args.(Raw)
	if !ok {
		var err error
		if b, err = json.Marshal(args); err != nil {
			c.T.Fatal(err)
		}
	}
	tx := &chain.Tx{ChainID: c.ID, Nonce: c.nonces[sender], Module: mod, Method: method, Args: b}
	if err := tx.Sign(c.Suite, c.Key(sender)); err != nil {
		c.T.Fatal(err)
	}
	c.nonces[sender]++
	res, err := c.exe.Execute(module.Block{ChainID: c.ID, Height: c.Height, Time: c.Height * 1000}, []*chain.Tx{tx}, c, exec.Verify)
	if err != nil {
		c.T.Fatal(err)
	}
	if c.Advance {
		c.Height++
	}
	for _, w := range res.Writes {
		if w.Value == nil {
			delete(c.State, string(w.Key))
		} else {
			c.State[string(w.Key)] = w.Value
		}
	}
	c.Receipt = res.Receipts[0]
	if c.Receipt.Status != chain.StatusOK {
		return errors.New(c.Receipt.Error)
	}
	return nil
}

// Must fails the test if the call fails.
func (c *Chain) Must(sender, mod, method string, args any) {
	c.T.Helper()
	if err := c.Call(sender, mod, method, args); err != nil {
		c.T.Fatalf("%s %s.%s: %v", sender, mod, method, err)
	}
}

// Refused checks that the call fails with want's text in its receipt.
func (c *Chain) Refused(want error, sender, mod, method string, args any) {
	c.T.Helper()
	err := c.Call(sender, mod, method, args)
	if err == nil || !strings.Contains(err.Error(), want.Error()) {
		c.T.Fatalf("%s %s.%s: got %v, want %v", sender, mod, method, err, want)
	}
}
