package services

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/crypto/keyfile"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/httpsig"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/openapi"
)

// testNet is a one-validator federation (every chain solo) in this
// process, served by the real API handler over HTTP.
type testNet struct {
	t        testing.TB
	url      string
	n        *node.Node
	h        http.Handler
	suite    crypto.Suite
	operator crypto.PrivateKey // genesis admin of the identity chain
	// granter is an admin everywhere, granted by the operator, that signs
	// grant: its nonces never interleave with transactions tests build
	// with the operator's key and submit later.
	granter crypto.PrivateKey

	mu     sync.Mutex
	nonces map[chain.Address]uint64
}

func newTestNet(t testing.TB) *testNet {
	t.Helper()
	return newTestNetRetaining(t, 0)
}

// newTestNetRetaining is newTestNet whose ledgers keep only the latest
// retain blocks (0: all).
func newTestNetRetaining(t testing.TB, retain uint64) *testNet {
	t.Helper()
	dir := t.TempDir()
	if _, err := node.InitNetwork(node.InitOptions{Validators: 1, Out: dir, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	home, err := node.LoadHome(filepath.Join(dir, "node1"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(node.Config{DataDir: home.Dir, Chains: home.Chains, NodeID: home.Config.ID, RetainBlocks: retain})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	h, err := New(n, nil)
	if err != nil {
		cancel()
		<-done
		n.Close()
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		n.Close()
	})
	s, op, err := keyfile.Load(filepath.Join(dir, node.OperatorKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNet{t: t, url: srv.URL, n: n, h: h, suite: s, operator: op, nonces: map[chain.Address]uint64{}}
	tn.granter = tn.key()
	all := registry.Scope{Chain: registry.Wildcard, Module: registry.Wildcard, Method: registry.Wildcard}
	tn.commit(tn.admin(), tn.tx(op, "identity", registry.RolesModule, "grant", registry.GrantArgs{Holder: tn.keyDID(tn.granter), Role: registry.RoleAdmin, Scope: all}))
	return tn
}

func (tn *testNet) key() crypto.PrivateKey {
	tn.t.Helper()
	k, err := tn.suite.GenerateKey(rand.Reader)
	if err != nil {
		tn.t.Fatal(err)
	}
	return k
}

func (tn *testNet) keyDID(k crypto.PrivateKey) string {
	return did.KeyDID(chain.AddressOf(tn.suite, k.Public().Bytes())).String()
}

// tx builds and signs a transaction with k's next nonce.
func (tn *testNet) tx(k crypto.PrivateKey, chainID, mod, method string, args any) *chain.Tx {
	tn.t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		tn.t.Fatal(err)
	}
	a := chain.AddressOf(tn.suite, k.Public().Bytes())
	tn.mu.Lock()
	nonce := tn.nonces[a]
	tn.nonces[a]++
	tn.mu.Unlock()
	tx := &chain.Tx{ChainID: chainID, Nonce: nonce, Module: mod, Method: method, Args: raw}
	if err := tx.Sign(tn.suite, k); err != nil {
		tn.t.Fatal(err)
	}
	return tx
}

// signer signs requests as a DID.
type signer struct {
	key   crypto.PrivateKey
	keyid string // empty: the key's key DID
	// presented overrides the key sent in PublicKeyHeader ("-": none).
	presented string
	opts      httpsig.SignOptions
	// mangle changes the signed request (e.g. corrupts the signature).
	mangle func(*http.Request)
}

// request builds a request for method path with a JSON body, signed by
// sg (nil: unsigned).
func (tn *testNet) request(sg *signer, method, path string, body []byte) *http.Request {
	tn.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tn.url+path, rd)
	if err != nil {
		tn.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sg == nil {
		return req
	}
	keyid := sg.keyid
	if keyid == "" {
		keyid = chain.KeyDID(tn.suite, sg.key.Public().Bytes())
		req.Header.Set(PublicKeyHeader, base64.StdEncoding.EncodeToString(sg.key.Public().Bytes()))
	}
	switch sg.presented {
	case "":
	case "-":
		req.Header.Del(PublicKeyHeader)
	default:
		req.Header.Set(PublicKeyHeader, sg.presented)
	}
	if err := httpsig.SignWith(req, sg.key, keyid, sg.opts); err != nil {
		tn.t.Fatal(err)
	}
	if sg.mangle != nil {
		sg.mangle(req)
	}
	return req
}

// reply is an API answer.
type reply struct {
	status int
	code   string
	detail string
	tx     openapi.Transaction
	raw    []byte // a binary answer's body
}

// roundTrip sends req and reads the whole answer.
func (tn *testNet) roundTrip(req *http.Request) (*http.Response, []byte) {
	tn.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tn.t.Fatal(err)
	}
	return resp, raw
}

func (tn *testNet) do(req *http.Request) reply {
	tn.t.Helper()
	resp, raw := tn.roundTrip(req)
	r := reply{status: resp.StatusCode}
	if resp.StatusCode >= 300 {
		var p openapi.Problem
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(raw, &p) != nil || p.Code == "" {
			tn.t.Fatalf("%d answer is not a problem (%s): %s", resp.StatusCode, ct, raw)
		}
		if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			tn.t.Fatalf("401 without WWW-Authenticate: %s", raw)
		}
		r.code = p.Code
		if p.Detail != nil {
			r.detail = *p.Detail
		}
		return r
	}
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		r.raw = raw // a snapshot stream
		return r
	}
	if err := json.Unmarshal(raw, &r.tx); err != nil {
		tn.t.Fatalf("decode %s: %v", raw, err)
	}
	return r
}

func submitBody(tx *chain.Tx) []byte {
	b, _ := json.Marshal(openapi.SubmitRequest{Tx: tx.Encode()})
	return b
}

func submitPath(chainID string) string {
	return "/v1/chains/" + chainID + "/transactions?wait=10"
}

// commit submits tx signed by sg and requires it committed with an ok
// receipt.
func (tn *testNet) commit(sg *signer, tx *chain.Tx) {
	tn.t.Helper()
	r := tn.do(tn.request(sg, "POST", submitPath(tx.ChainID), submitBody(tx)))
	if r.status != http.StatusOK || r.tx.Receipt == nil || r.tx.Receipt.Status != openapi.ReceiptStatusOk {
		tn.t.Fatalf("%s.%s on %s: %d %s %s %+v", tx.Module, tx.Method, tx.ChainID, r.status, r.code, r.detail, r.tx.Receipt)
	}
}

// admin signs as the operator's key DID, a genesis admin.
func (tn *testNet) admin() *signer { return &signer{key: tn.operator} }

// grant makes the granter (an admin everywhere) grant role to holder at s.
func (tn *testNet) grant(holder, role string, s registry.Scope) {
	tn.t.Helper()
	tn.commit(&signer{key: tn.granter}, tn.tx(tn.granter, "identity", registry.RolesModule, "grant", registry.GrantArgs{Holder: holder, Role: role, Scope: s}))
}

// registerOrg registers an organisation DID whose initial method key-1 is
// k, attested by the operator (made a registrar first).
func (tn *testNet) registerOrg(k crypto.PrivateKey) *did.Document {
	tn.t.Helper()
	doc, tx := tn.registerTx(k)
	tn.commit(tn.admin(), tx)
	return doc
}

// registerTx builds the did.register transaction of an organisation DID
// whose initial method key-1 is k, attested and signed by the operator,
// which must hold registrar for did.register.
func (tn *testNet) registerTx(k crypto.PrivateKey) (*did.Document, *chain.Tx) {
	tn.t.Helper()
	op := tn.keyDID(tn.operator)
	doc := &did.Document{
		ID:                  did.Derive(tn.suite, k.Public().Bytes()).String(),
		Type:                did.TypeOrganisation,
		VerificationMethods: []did.VerificationMethod{{ID: "key-1", Type: did.KeyType(tn.suite.Name()), PublicKey: k.Public().Bytes()}},
		Attributes:          map[string]string{"name": "Health Agency"},
		Authority:           op + "#" + did.KeyFragment,
		AuthorityKey:        tn.operator.Public().Bytes(),
	}
	if err := doc.SignClaim(tn.operator); err != nil {
		tn.t.Fatal(err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		tn.t.Fatal(err)
	}
	sig, err := doc.SignRegistration(k)
	if err != nil {
		tn.t.Fatal(err)
	}
	return doc, tn.tx(tn.operator, "identity", registry.DIDModule, "register", registry.RegisterArgs{Document: js, RegistrationSig: sig})
}

// rotate replaces doc's methods with one, id, holding next; the update is
// signed by cur (a current key), relayed by the operator.
func (tn *testNet) rotate(doc *did.Document, cur, next crypto.PrivateKey, id string) *did.Document {
	tn.t.Helper()
	nd, tx := tn.rotateTx(doc, cur, next, id)
	tn.commit(tn.admin(), tx)
	return nd
}

// rotateTx builds the did.update transaction of rotate.
func (tn *testNet) rotateTx(doc *did.Document, cur, next crypto.PrivateKey, id string) (*did.Document, *chain.Tx) {
	tn.t.Helper()
	nd := *doc
	nd.VerificationMethods = []did.VerificationMethod{{ID: id, Type: did.KeyType(tn.suite.Name()), PublicKey: next.Public().Bytes()}}
	js, err := json.Marshal(&nd)
	if err != nil {
		tn.t.Fatal(err)
	}
	return &nd, tn.tx(cur, "identity", registry.DIDModule, "update", registry.UpdateArgs{Document: js})
}

// ensureRole grants holder role at s unless a grant covering s is already
// on the identity chain (the operator's genesis admin role included).
func (tn *testNet) ensureRole(holder, role string, s registry.Scope) {
	tn.t.Helper()
	r, err := identityChain(tn.n)
	if err != nil || r == nil {
		tn.t.Fatalf("identity chain: %v", err)
	}
	p, err := registry.ParseParams(r.Genesis().Params[registry.RolesModule])
	if err != nil {
		tn.t.Fatal(err)
	}
	ok, err := registry.HasRole(registry.Reader(r.Ledger().Get), p, holder, role, s)
	if err != nil {
		tn.t.Fatal(err)
	}
	if !ok {
		tn.grant(holder, role, s)
	}
}
