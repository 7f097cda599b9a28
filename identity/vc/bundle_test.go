package vc

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/ed25519sha256"
	"github.com/polityledger/polity/chain/smt"
)

// testCodec is a stand-in for identity/registry's state layout:
//
//	did/<did>                    JSON {"<kid>": [{"pub": hex, "from": unix, "until": unix}]}
//	trust/<issuer>/<type>        "1"
//	status/<list>/<index/1024>   purpose byte, then 128 bytes of bits
type testCodec struct{ s crypto.Suite }

type testDoc map[string][]struct {
	Pub   []byte `json:"pub"`
	From  int64  `json:"from"`
	Until int64  `json:"until"`
}

func (testCodec) DIDKey(did string) ([]byte, error) { return []byte("did/" + did), nil }

func (c testCodec) DecodeDID(did string, v []byte) (KeyResolver, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no DID document for %s", ErrUnknownKey, did)
	}
	var d testDoc
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, err
	}
	m := newMemKeys()
	for kid, ps := range d {
		for _, p := range ps {
			k, err := c.s.PublicKey(p.Pub)
			if err != nil {
				return nil, err
			}
			m.methods[kid] = append(m.methods[kid], keyPeriod{key: k, from: time.Unix(p.From, 0), until: unixOrZero(p.Until)})
		}
	}
	return m, nil
}

func unixOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

func (testCodec) TrustKey(issuer, t string) ([]byte, error) {
	return []byte("trust/" + issuer + "/" + t), nil
}

func (testCodec) DecodeTrust(_, _ string, v []byte) (bool, error) { return string(v) == "1", nil }

func (testCodec) StatusKeys(list string, i uint64) ([][]byte, error) {
	return [][]byte{[]byte("status/" + list + "/" + strconv.FormatUint(i/1024, 10))}, nil
}

func (testCodec) DecodeStatus(list string, i uint64, p Purpose, vs [][]byte) (bool, error) {
	if len(vs) != 1 {
		return false, fmt.Errorf("want one value for %s", list)
	}
	v := vs[0]
	if len(v) != 129 || Purpose([]string{"", "revocation", "suspension"}[min(int(v[0]), 2)]) != p {
		return false, fmt.Errorf("bad chunk for %s", list)
	}
	o := i % 1024
	return v[1+o/8]&(0x80>>(o%8)) != 0, nil
}

type memNodes map[crypto.Hash][]byte

func (m memNodes) Node(h crypto.Hash) ([]byte, error) {
	if d, ok := m[h]; ok {
		return d, nil
	}
	return nil, smt.ErrMissingNode
}

// chainFixture is an identity chain's certified state.
type chainFixture struct {
	s      crypto.Suite
	keys   []crypto.PrivateKey
	vs     chain.ValidatorSet
	tree   *smt.Tree
	nodes  memNodes
	root   crypto.Hash
	header chain.Header
	commit chain.Commit
}

const identityChain = "identity"

func newChainFixture(t testing.TB, state map[string][]byte, at time.Time) *chainFixture {
	t.Helper()
	s := ed25519sha256.New()
	f := &chainFixture{s: s, nodes: memNodes{}}
	for i := 0; i < 4; i++ {
		seed := sha256.Sum256(fmt.Appendf(nil, "validator %d", i))
		k, _ := s.PrivateKey(seed[:])
		f.keys = append(f.keys, k)
		f.vs.Validators = append(f.vs.Validators, chain.Validator{ID: fmt.Sprintf("node-%d", i), PubKey: k.Public().Bytes()})
	}
	f.tree = smt.New(s, f.nodes)
	var ops []smt.Op
	for k, v := range state {
		ops = append(ops, smt.Op{Key: chain.StateKeyHash(s, []byte(k)), ValueHash: s.Hash(v)})
	}
	slices.SortFunc(ops, func(a, b smt.Op) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	root, created, err := f.tree.Update(crypto.Hash{}, ops)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range created {
		f.nodes[n.Hash] = n.Data
	}
	f.root = root
	f.header = chain.Header{ChainID: identityChain, Height: 77, Time: uint64(at.UnixMilli()), Proposer: "node-0",
		StateRoot: root, ValidatorsHash: f.vs.Hash(s)}
	msg := chain.CommitMessage(f.header.ChainID, f.header.Height, f.header.Hash(s))
	for _, i := range []int{0, 1, 3} {
		sig, _ := f.keys[i].Sign(msg)
		f.commit.Sigs = append(f.commit.Sigs, chain.CommitSig{Index: uint32(i), Sig: sig})
	}
	return f
}

// bundle proves the keys BundleKeys asks for.
func (f *chainFixture) bundle(t testing.TB, cred string, state map[string][]byte) *Bundle {
	t.Helper()
	keys, err := BundleKeys(cred, testCodec{f.s})
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Version: BundleVersion, Credential: cred, Suite: f.s.Name(),
		Header: f.header.Encode(), Commit: f.commit.Encode(), Validators: f.vs.Encode()}
	for _, k := range keys {
		p, _, err := f.tree.ProveValue(f.root, chain.StateKeyHash(f.s, k))
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := p.MarshalBinary()
		b.State = append(b.State, ProvenValue{Key: k, Value: state[string(k)], Proof: pb})
	}
	return b
}

func bundleState(t testing.TB, e *env, revoked bool) map[string][]byte {
	doc, _ := json.Marshal(map[string]any{issuerKID: []map[string]any{{"pub": e.issuer.Public().Bytes(), "from": t0.Add(-time.Hour).Unix()}}})
	chunk := make([]byte, 129)
	chunk[0] = 1
	if revoked {
		o := 94567 % 1024
		chunk[1+o/8] |= 0x80 >> (o % 8)
	}
	return map[string][]byte{
		"did/" + issuerDID:                                doc,
		"trust/" + issuerDID + "/StudentCredential":       []byte("1"),
		"status/" + listID + "-revocation/" + "92":        chunk,
		"did/did:polity:unrelated":                        []byte("{}"),
		"trust/" + issuerDID + "/DiplomaCredential":       []byte("0"),
		"status/" + listID + "-revocation/" + "93":        make([]byte, 129),
		"did/" + holderDID:                                []byte("{}"),
		"trust/did:polity:other-issuer/StudentCredential": []byte("1"),
	}
}

func TestBundle(t *testing.T) {
	e := newEnv(t, ed25519sha256.New())
	now := t0.Add(2 * time.Hour)
	cred := e.issue(t, nil)
	state := bundleState(t, e, false)
	f := newChainFixture(t, state, now.Add(-time.Minute))
	opts := BundleOptions{ChainID: identityChain, TrustedValidators: f.vs.Hash(f.s), Now: now, MaxAge: time.Hour, Skew: time.Minute}

	b := f.bundle(t, cred, state)
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b2, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := VerifyBundle(b2, testCodec{f.s}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Height != 77 || res.Credential.Subject != holderDID || res.HeaderHash != f.header.Hash(f.s) {
		t.Fatalf("result %+v", res)
	}

	// Revoked in the proven state.
	rstate := bundleState(t, e, true)
	rf := newChainFixture(t, rstate, now.Add(-time.Minute))
	ropts := opts
	ropts.TrustedValidators = rf.vs.Hash(rf.s)
	if _, err := VerifyBundle(rf.bundle(t, cred, rstate), testCodec{f.s}, ropts); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: got %v", err)
	}

	// Trust entry proven absent.
	untrusted := e.issue(t, func(r *IssueRequest) { r.Types = []string{"BirthCertificate"} })
	if _, err := VerifyBundle(f.bundle(t, untrusted, state), testCodec{f.s}, opts); !errors.Is(err, ErrUntrustedIssuer) {
		t.Fatalf("untrusted: got %v", err)
	}

	cases := []struct {
		name string
		edit func(b *Bundle, o *BundleOptions)
		want error
	}{
		{"tampered value", func(b *Bundle, _ *BundleOptions) { b.State[1].Value = []byte("1 ") }, ErrBundle},
		{"value claimed absent", func(b *Bundle, _ *BundleOptions) { b.State[2].Value = nil }, ErrBundle},
		{"missing status entry", func(b *Bundle, _ *BundleOptions) { b.State = b.State[:2] }, ErrBundle},
		{"repeated entry", func(b *Bundle, _ *BundleOptions) { b.State[2] = b.State[1] }, ErrBundle},
		{"untrusted validators", func(_ *Bundle, o *BundleOptions) { o.TrustedValidators[0] ^= 1 }, ErrBundle},
		{"no trust anchor", func(_ *Bundle, o *BundleOptions) { o.TrustedValidators = crypto.Hash{} }, ErrBundle},
		{"other chain", func(_ *Bundle, o *BundleOptions) { o.ChainID = "health" }, ErrBundle},
		{"stale header", func(_ *Bundle, o *BundleOptions) { o.Now = o.Now.Add(3 * time.Hour) }, ErrBundle},
		{"header from the future", func(_ *Bundle, o *BundleOptions) { o.Now = o.Now.Add(-time.Hour) }, ErrBundle},
		{"credential swapped", func(b *Bundle, _ *BundleOptions) {
			b.Credential = e.issue(t, func(r *IssueRequest) { r.Status.Index = 5 })
		}, ErrBundle},
		{"bad header", func(b *Bundle, _ *BundleOptions) { b.Header = b.Header[:10] }, ErrMalformed},
		{"unknown suite", func(b *Bundle, _ *BundleOptions) { b.Suite = "rsa" }, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := f.bundle(t, cred, state)
			o := opts
			c.edit(b, &o)
			if _, err := VerifyBundle(b, testCodec{f.s}, o); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}

	for name, s := range map[string]string{
		"not json":      "nope",
		"unknown field": strings.Replace(string(data), `"version"`, `"extra": 1, "version"`, 1),
		"version 2":     strings.Replace(string(data), `"version": 1`, `"version": 2`, 1),
	} {
		if _, err := ParseBundle([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
