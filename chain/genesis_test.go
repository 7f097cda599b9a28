package chain

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/polityledger/polity/chain/crypto"
)

func testGenesis(t testing.TB, s crypto.Suite, n int) *Genesis {
	t.Helper()
	return &Genesis{
		ChainID:     testChain,
		Kind:        KindGovernance,
		Suite:       s.Name(),
		Consensus:   ConsensusBFT,
		Time:        1_700_000_000_000,
		Validators:  *testValidators(testKeys(t, s, n)),
		Modules:     []string{"identity", "records"},
		TxWorkLimit: 1 << 20,
		MaxBlockTxs: 500,
	}
}

func TestGenesisRoundTrip(t *testing.T) {
	for _, s := range bothSuites {
		g := testGenesis(t, s, 4)
		dept := &Genesis{ChainID: "dept-a", Kind: KindDepartment, Parent: testChain, Suite: s.Name(), Consensus: ConsensusSolo,
			Validators: *testValidators(testKeys(t, s, 1))}
		for _, g := range []*Genesis{g, dept} {
			if err := g.Validate(s); err != nil {
				t.Fatal(err)
			}
			enc := g.Encode()
			got, err := DecodeGenesis(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, g) {
				t.Fatalf("decoded %+v, want %+v", got, g)
			}
			if !bytes.Equal(got.Encode(), enc) {
				t.Fatal("re-encoding differs")
			}
			if err := got.Validate(s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDecodeGenesisStrict(t *testing.T) {
	enc := string(testGenesis(t, edSuite, 1).Encode())
	tests := []struct {
		name string
		in   string
	}{
		{"unknown field", strings.Replace(enc, `{`, `{"extra":1,`, 1)},
		{"unknown nested field", strings.Replace(enc, `"pub_key"`, `"weight":1,"pub_key"`, 1)},
		{"second document", enc + enc},
		{"trailing garbage", enc + "x"},
		{"trailing brace", enc + "}"},
		{"trailing bracket", enc + "]"},
		{"trailing brace after space", enc + "\n }"},
		{"trailing null", enc + " null"},
		{"truncated", enc[:len(enc)-1]},
		{"empty", ""},
		{"array", "[]"},
		{"wrong type", strings.Replace(enc, `"time":1700000000000`, `"time":"soon"`, 1)},
		{"negative time", strings.Replace(enc, `"time":1700000000000`, `"time":-1`, 1)},
		{"oversize", enc + strings.Repeat(" ", MaxGenesisSize)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == enc {
				t.Fatal("test case did not change the encoding")
			}
			g, err := DecodeGenesis([]byte(tc.in))
			if err == nil || g != nil {
				t.Fatalf("accepted %q", tc.in)
			}
			if !errors.Is(err, ErrBadGenesis) {
				t.Fatalf("error %v does not wrap ErrBadGenesis", err)
			}
		})
	}
	if _, err := DecodeGenesis([]byte(" \n" + enc + "\n\t ")); err != nil {
		t.Fatalf("surrounding whitespace rejected: %v", err)
	}
}

// TestGenesisEncodeDecodable checks that what DecodeGenesis accepts encodes
// to something it accepts again: Ledger stores Encode and reads it back.
func TestGenesisEncodeDecodable(t *testing.T) {
	g := testGenesis(t, edSuite, 1)
	// json.Marshal escapes <, > and & as six bytes each.
	g.Parent = strings.Repeat("<", MaxGenesisSize/2)
	in := g.Encode()
	in = bytes.ReplaceAll(in, []byte(`\u003c`), []byte("<"))
	if len(in) > MaxGenesisSize {
		t.Fatalf("test input of %d bytes is oversize", len(in))
	}
	got, err := DecodeGenesis(in)
	if err != nil {
		return // rejecting it is fine
	}
	if _, err := DecodeGenesis(got.Encode()); err != nil {
		t.Fatalf("accepted a genesis whose encoding it rejects: %v", err)
	}
}

func TestGenesisValidate(t *testing.T) {
	s := edSuite
	with := func(f func(g *Genesis)) *Genesis {
		g := testGenesis(t, s, 4)
		f(g)
		return g
	}
	tests := []struct {
		name string
		g    *Genesis
		ok   bool
	}{
		{"good", with(func(*Genesis) {}), true},
		{"raft", with(func(g *Genesis) { g.Consensus = ConsensusRaft; g.Validators.CrashFaultOnly = true }), true},
		{"raft with a BFT set", with(func(g *Genesis) { g.Consensus = ConsensusRaft }), false},
		{"BFT with a crash-fault-only set", with(func(g *Genesis) { g.Validators.CrashFaultOnly = true }), false},
		{"solo one validator", with(func(g *Genesis) { g.Consensus = ConsensusSolo; g.Validators.Validators = g.Validators.Validators[:1] }), true},
		{"identity kind", with(func(g *Genesis) { g.Kind = KindIdentity }), true},
		{"no modules", with(func(g *Genesis) { g.Modules = nil }), true},
		{"max block txs limit", with(func(g *Genesis) { g.MaxBlockTxs = MaxBlockTxs }), true},
		{"bad chain id", with(func(g *Genesis) { g.ChainID = "Gov" }), false},
		{"empty chain id", with(func(g *Genesis) { g.ChainID = "" }), false},
		{"bad kind", with(func(g *Genesis) { g.Kind = "bank" }), false},
		{"bad consensus", with(func(g *Genesis) { g.Consensus = "pow" }), false},
		{"other suite", with(func(g *Genesis) { g.Suite = smSuite.Name() }), false},
		{"negative max block txs", with(func(g *Genesis) { g.MaxBlockTxs = -1 }), false},
		{"max block txs over limit", with(func(g *Genesis) { g.MaxBlockTxs = MaxBlockTxs + 1 }), false},
		{"solo with four", with(func(g *Genesis) { g.Consensus = ConsensusSolo }), false},
		{"bad module", with(func(g *Genesis) { g.Modules = []string{"records", "Bad"} }), false},
		{"no validators", with(func(g *Genesis) { g.Validators.Validators = nil }), false},
		{"duplicate validator", with(func(g *Genesis) { g.Validators.Validators[1].ID = g.Validators.Validators[0].ID }), false},
		{"validator key of other suite", with(func(g *Genesis) { g.Validators.Validators[1].PubKey = testKey(t, smSuite, 0).Public().Bytes() }), false},
	}
	for _, tc := range tests {
		err := tc.g.Validate(s)
		if tc.ok != (err == nil) {
			t.Errorf("%s: Validate = %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrBadGenesis) {
			t.Errorf("%s: error %v does not wrap ErrBadGenesis", tc.name, err)
		}
	}
}

func TestGenesisHeader(t *testing.T) {
	for _, s := range bothSuites {
		g := testGenesis(t, s, 4)
		root := s.Hash([]byte("state"))
		h := g.Header(s, root)
		want := Header{
			ChainID:        g.ChainID,
			Time:           g.Time,
			Parent:         s.Hash(g.Encode()),
			Proposer:       "genesis",
			TxRoot:         s.Hash(),
			StateRoot:      root,
			ReceiptsRoot:   s.Hash(),
			ValidatorsHash: g.Validators.Hash(s),
		}
		if *h != want {
			t.Fatalf("%s: header %+v, want %+v", s.Name(), h, want)
		}
		if h.TxRoot != TxRoot(s, nil) || h.ReceiptsRoot != ReceiptsRoot(s, nil) {
			t.Fatal("empty roots differ from the Merkle roots of no leaves")
		}
		// Every genesis field is committed through the parent hash.
		g2 := *g
		g2.Modules = []string{"identity"}
		if g2.Header(s, root).Parent == h.Parent {
			t.Fatal("changing modules kept the parent hash")
		}
		g3 := *g
		g3.TxWorkLimit++
		if g3.Header(s, root).Hash(s) == h.Hash(s) {
			t.Fatal("changing the work limit kept the header hash")
		}
	}
	if StateKeyHash(edSuite, []byte("k")) != edSuite.Hash([]byte("k")) {
		t.Fatal("StateKeyHash is not the suite hash")
	}
}
