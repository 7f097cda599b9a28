package node

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/consensus"
	raftengine "github.com/polityledger/polity/chain/consensus/raft"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/domains/records"
)

// memMesh connects the nodes of one process: chain ID and node number to
// the receiver registered for them.
type memMesh struct {
	mu    sync.Mutex
	peers map[string]map[uint64]consensus.Receiver
}

type memNet struct {
	m     *memMesh
	chain string
	self  uint64
}

func (m *memMesh) Chain(chainID string, _ map[uint64]string, self uint64, r consensus.Receiver) consensus.Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.peers[chainID] == nil {
		m.peers[chainID] = map[uint64]consensus.Receiver{}
	}
	m.peers[chainID][self] = r
	return memNet{m, chainID, self}
}

func (n memNet) Send(to uint64, msg []byte) {
	n.m.mu.Lock()
	r := n.m.peers[n.chain][to]
	n.m.mu.Unlock()
	if r != nil {
		msg = append([]byte(nil), msg...)
		go r.Receive(n.self, msg)
	}
}

// TestRaftChainOpens: a genesis with consensus "raft" and a crash-fault-only
// set runs on three nodes and commits; a Byzantine-rule set is refused for
// Raft, and a crash-fault-only set for BFT.
func TestRaftChainOpens(t *testing.T) {
	s := ed25519sha256.New()
	var keys []crypto.PrivateKey
	vs := chain.ValidatorSet{CrashFaultOnly: true}
	for i := 0; i < 3; i++ {
		k, err := s.GenerateKey(crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		vs.Validators = append(vs.Validators, chain.Validator{ID: fmt.Sprintf("org%d", i+1), PubKey: k.Public().Bytes()})
	}
	g := &chain.Genesis{ChainID: "justice", Kind: chain.KindDepartment, Suite: s.Name(), Consensus: chain.ConsensusRaft,
		Time: 1_700_000_000_000, Validators: vs, Modules: []string{records.Name}}
	mesh := &memMesh{peers: map[string]map[uint64]consensus.Receiver{}}
	fast := func(c *raftengine.Config) {
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 100*time.Millisecond, 200*time.Millisecond, 50*time.Millisecond
		c.RPCTimeout = 300 * time.Millisecond
	}
	dir := t.TempDir()
	var nodes []*Node
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		for _, n := range nodes {
			n.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		n, err := Open(Config{DataDir: fmt.Sprintf("%s/n%d", dir, i), NodeID: vs.Validators[i].ID, Mesh: mesh, TuneRaft: fast,
			Chains: []ChainSpec{{Genesis: g, Key: keys[i]}}})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}()
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	for _, n := range nodes {
		if err := n.WaitReady(wctx); err != nil {
			t.Fatal(err)
		}
	}
	k, _ := s.GenerateKey(crand.Reader)
	tx := &chain.Tx{ChainID: "justice", Module: records.Name, Method: "put", Args: []byte(`{"id":"case-1","data":"x"}`)}
	if err := tx.Sign(s, k); err != nil {
		t.Fatal(err)
	}
	rep, _ := nodes[1].Chain("justice")
	id, err := rep.Submit(tx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		r, _ := n.Chain("justice")
		if _, _, err := r.WaitTx(wctx, id); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}

	bftRule := *g
	bftRule.ChainID = "other"
	bftRule.Validators.CrashFaultOnly = false
	if _, err := Open(Config{DataDir: dir + "/x", NodeID: "org1", Mesh: mesh, Chains: []ChainSpec{{Genesis: &bftRule, Key: keys[0]}}}); err == nil {
		t.Fatal("a Raft chain with the Byzantine quorum rule opened")
	}
	cftBFT := *g
	cftBFT.ChainID = "other2"
	cftBFT.Consensus = chain.ConsensusBFT
	if _, err := Open(Config{DataDir: dir + "/y", NodeID: "org1", Mesh: mesh, Chains: []ChainSpec{{Genesis: &cftBFT, Key: keys[0]}}}); err == nil {
		t.Fatal("a BFT chain with the crash-fault-only rule opened")
	}
}
