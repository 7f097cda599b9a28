package simnet

import (
	crand "crypto/rand"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
)

// Workload is the module call every client transaction makes (the engines'
// tests use records.put; this package may not import domains).
type Workload struct {
	Module module.Module
	Method string
	// Args returns the call's arguments for a transaction's label.
	Args func(label string) []byte
}

// Client signs the cluster's workload transactions with a key of its own,
// nonces from 0.
type Client struct {
	t     testing.TB
	w     Workload
	s     crypto.Suite
	k     crypto.PrivateKey
	nonce uint64
}

// NewClient returns a client with a fresh key.
func (c *Cluster[E]) NewClient() *Client {
	c.T.Helper()
	k, err := c.Suite.GenerateKey(crand.Reader)
	if err != nil {
		c.T.Fatal(err)
	}
	return &Client{t: c.T, w: c.cfg.Workload, s: c.Suite, k: k}
}

// Tx returns the client's next transaction, labelled.
func (cl *Client) Tx(label string) *chain.Tx {
	tx := &chain.Tx{ChainID: ChainID, Nonce: cl.nonce, Module: cl.w.Module.Name(), Method: cl.w.Method, Args: cl.w.Args(label)}
	cl.nonce++
	if err := tx.Sign(cl.s, cl.k); err != nil {
		cl.t.Fatal(err)
	}
	return tx
}
