package replica_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/chain/valset"
)

var suite = ed25519sha256.New()

// cluster drives one replica by hand: it builds each block as v1 and
// certifies it with every key of the set the replica names for it.
type cluster struct {
	t      testing.TB
	g      *chain.Genesis
	dir    string
	r      *replica.Replica
	keys   map[string]crypto.PrivateKey
	nonces map[string]uint64
}

func key(t testing.TB, id string) crypto.PrivateKey {
	seed := suite.Hash([]byte("replica-test/" + id))
	k, err := suite.PrivateKey(seed[:32])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCluster(t testing.TB, n int) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), keys: map[string]crypto.PrivateKey{}, nonces: map[string]uint64{}}
	c.g = &chain.Genesis{ChainID: "health", Kind: chain.KindDepartment, Suite: suite.Name(), Consensus: chain.ConsensusBFT, Time: 1000, Modules: []string{valset.Name}}
	for i := 1; i <= n+1; i++ {
		id := fmt.Sprintf("v%d", i)
		c.keys[id] = key(t, id)
		if i <= n {
			c.g.Validators.Validators = append(c.g.Validators.Validators, chain.Validator{ID: id, PubKey: c.keys[id].Public().Bytes()})
		}
	}
	c.open()
	t.Cleanup(func() { c.r.Close() })
	return c
}

func (c *cluster) open() {
	var err error
	if c.r, err = replica.Open(c.config(c.dir)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) tx(sender, method string, args any) *chain.Tx {
	b, err := json.Marshal(args)
	if err != nil {
		c.t.Fatal(err)
	}
	tx := &chain.Tx{ChainID: c.g.ChainID, Nonce: c.nonces[sender], Module: valset.Name, Method: method, Args: b}
	if err := tx.Sign(suite, c.keys[sender]); err != nil {
		c.t.Fatal(err)
	}
	c.nonces[sender]++
	return tx
}

// certify signs b with every key of vs (all of them, more than a quorum).
func (c *cluster) certify(b *chain.Block, vs *chain.ValidatorSet) {
	msg := chain.CommitMessage(b.Header.ChainID, b.Header.Height, b.Header.Hash(suite))
	b.Commit = chain.Commit{}
	for i, v := range vs.Validators {
		sig, err := c.keys[v.ID].Sign(msg)
		if err != nil {
			c.t.Fatal(err)
		}
		b.Commit.Sigs = append(b.Commit.Sigs, chain.CommitSig{Index: uint32(i), Sig: sig})
	}
}

// step commits one block of txs and returns it.
func (c *cluster) step(txs ...*chain.Tx) *chain.Block {
	c.t.Helper()
	head := c.r.Head()
	b, err := c.r.Build("v1", head.Time+1, txs)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(b.Txs) != len(txs) {
		c.t.Fatalf("%d of %d txs built", len(b.Txs), len(txs))
	}
	vs, _ := c.r.NextValidators()
	c.certify(b, vs)
	if err := chain.VerifyCommit(suite, vs, &b.Header, &b.Commit); err != nil {
		c.t.Fatal(err)
	}
	if err := c.r.Deliver(b); err != nil {
		c.t.Fatal(err)
	}
	return b
}

func (c *cluster) event(b *chain.Block, attr string) string {
	c.t.Helper()
	p, err := c.r.TxProof(b.Txs[0].ID(suite))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range p.Bundle.Receipt.Events {
		for _, a := range e.Attrs {
			if a.Key == attr {
				return a.Value
			}
		}
	}
	c.t.Fatalf("no %s in receipt %+v", attr, p.Bundle.Receipt)
	return ""
}

func TestValidatorSetChangeTakesEffectNextHeight(t *testing.T) {
	c := newCluster(t, 4)
	genesisHash := c.g.Validators.Hash(suite)
	c.step() // an empty block first
	add := valset.ProposeArgs{Op: valset.OpAdd, ID: "v5", PubKey: hex.EncodeToString(c.keys["v5"].Public().Bytes()), Addr: "127.0.0.5:7000"}
	b := c.step(c.tx("v1", "propose", add))
	id := c.event(b, "proposal")
	c.step(c.tx("v2", "vote", valset.VoteArgs{Proposal: id}))
	if _, h := c.r.NextValidators(); h != genesisHash {
		t.Fatal("set changed before a quorum voted")
	}
	decided := c.step(c.tx("v3", "vote", valset.VoteArgs{Proposal: id}))
	next, nextHash := c.r.NextValidators()
	if len(next.Validators) != 5 || decided.Header.ValidatorsHash != genesisHash {
		t.Fatalf("after the deciding block: %d validators; it was certified by %s", len(next.Validators), decided.Header.ValidatorsHash)
	}
	if got := c.event(decided, "from_height"); got != fmt.Sprint(decided.Header.Height+1) {
		t.Fatalf("from_height %s", got)
	}

	// The old set can no longer certify the next height.
	head := c.r.Head()
	stale, err := c.r.Build("v1", head.Time+1, nil)
	if err != nil {
		t.Fatal(err)
	}
	stale.Header.ValidatorsHash = genesisHash
	if err := c.r.Verify(stale); !errors.Is(err, replica.ErrBadProposal) {
		t.Fatalf("block naming the old set: %v", err)
	}

	after := c.step(c.tx("v5", "propose", valset.ProposeArgs{Op: valset.OpRemove, ID: "v4"}))
	if after.Header.ValidatorsHash != nextHash {
		t.Fatal("block after the change not certified by the new set")
	}
	// A light client trusting the genesis set follows the change.
	p, err := c.r.TxProof(after.Txs[0].ID(suite))
	if err != nil {
		t.Fatal(err)
	}
	if p.Bundle.Validators.Hash(suite) != nextHash {
		t.Fatalf("bundle of block %d carries another set than the one certifying it", after.Header.Height)
	}
	enc, err := p.Bundle.Encode()
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := proof.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for _, trusted := range []crypto.Hash{genesisHash, nextHash, {}} {
		if _, err := proof.Verify(bundle, proof.Options{TrustedValidators: trusted}); err != nil {
			t.Fatalf("trusting %s: %v", trusted, err)
		}
	}
	if _, err := proof.Verify(bundle, proof.Options{TrustedValidators: suite.Hash([]byte("other"))}); !errors.Is(err, proof.ErrUntrusted) {
		t.Fatalf("untrusted anchor: %v", err)
	}
	// Forged changes fail: without transitions, the genesis-trusting client
	// refuses; a transition naming another set does not verify.
	bare := *bundle
	bare.Anchor, bare.Transitions = nil, nil
	if _, err := proof.Verify(&bare, proof.Options{TrustedValidators: genesisHash}); !errors.Is(err, proof.ErrUntrusted) {
		t.Fatalf("no transitions: %v", err)
	}
	forged := *bundle
	forged.Transitions = append([]proof.Transition(nil), bundle.Transitions...)
	forged.Transitions[0].Next.Validators = append([]chain.Validator(nil), next.Validators...)
	forged.Transitions[0].Next.Validators[4].ID = "mallory"
	forged.Validators = forged.Transitions[0].Next
	if _, err := proof.Verify(&forged, proof.Options{TrustedValidators: genesisHash}); !errors.Is(err, proof.ErrInvalid) {
		t.Fatalf("forged next set: %v", err)
	}
	// Bundles for heights before the change carry no transitions.
	early, err := c.r.TxProof(b.Txs[0].ID(suite))
	if err != nil || early.Bundle.Anchor != nil {
		t.Fatalf("bundle before the change: %v, anchor %v", err, early.Bundle.Anchor)
	}

	// The set survives a restart.
	c.r.Close()
	c.open()
	if _, h := c.r.NextValidators(); h != nextHash {
		t.Fatal("set after restart differs")
	}
}
