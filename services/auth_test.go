package services

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/identity/httpsig"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// specOp is one write operation of the embedded spec.
type specOp struct {
	*writeOp
	method, path string // path as templated in the spec
	hasBody      bool
}

func specWriteOps(t *testing.T) []specOp {
	t.Helper()
	spec, err := openapi.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := loadWritePolicy(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out []specOp
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if w := pol[op.OperationID]; w != nil {
				out = append(out, specOp{writeOp: w, method: method, path: path, hasBody: op.RequestBody != nil})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	if len(out) == 0 || len(out) != len(pol) {
		t.Fatalf("%d write operations found, policy has %d", len(out), len(pol))
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// generic is a request for op with placeholder parameters and body: enough
// for every refusal that comes before request validation.
func (o specOp) generic() (string, []byte) {
	path := pathParam.ReplaceAllStringFunc(o.path, func(p string) string {
		if p == "{chain}" {
			return "health"
		}
		return "x"
	})
	if o.hasBody {
		return path, []byte(`{}`)
	}
	return path, nil
}

// validRequest builds a request op accepts, writing to chainID when the
// operation takes the chain from the request (a fixed-chain operation, like
// the identity endpoints, ignores it). The accepted case requires a 2xx
// and, when the answer carries a receipt, an ok one. Every write operation
// needs one here so its 403 and accepted cases run: add yours.
type validRequest func(tn *testNet, chainID string) (method, path string, body []byte)

var validRequests = map[string]validRequest{
	"submitTransaction": func(tn *testNet, chainID string) (string, string, []byte) {
		tx := tn.tx(tn.key(), chainID, "records", "put", map[string]string{"id": "r-" + chainID, "data": "ok"})
		return "POST", submitPath(chainID), submitBody(tx)
	},
	"submitTransactionBatch": validBatch, // batch_test.go
	// authidentity_test.go
	"identityRegisterDid":      validRegisterDID,
	"identityUpdateDid":        validUpdateDID,
	"identityDeactivateDid":    validDeactivateDID,
	"identityGrantRole":        validGrantRole,
	"identityRevokeRole":       validRevokeRole,
	"identitySetTrust":         validSetTrust,
	"identityRemoveTrust":      validRemoveTrust,
	"identityCreateStatusList": validCreateStatusList,
	"identitySetStatus":        validSetStatus,
	"exportSnapshot": func(_ *testNet, chainID string) (string, string, []byte) {
		return "POST", "/v1/chains/" + chainID + "/snapshot", []byte{}
	},
}

// requestScope is the scope a request for o needs, worked out as the
// policy does: from the body's transaction or from the path parameters.
func (o specOp) requestScope(t *testing.T, path string, body []byte) registry.Scope {
	t.Helper()
	if o.fromTxs {
		scopes, err := batchScopes(body)
		if err != nil || len(scopes) != 1 {
			t.Fatalf("batch body: want one scope, got %v (%v)", scopes, err)
		}
		return scopes[0]
	}
	if o.fromTx {
		var req openapi.SubmitRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("body: %v", err)
		}
		tx, err := chain.DecodeTx(req.Tx)
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		return registry.Scope{Chain: tx.ChainID, Module: tx.Module, Method: tx.Method}
	}
	path, _, _ = strings.Cut(path, "?")
	tmpl, segs := strings.Split(o.path, "/"), strings.Split(path, "/")
	if len(tmpl) != len(segs) {
		t.Fatalf("path %s does not match %s", path, o.path)
	}
	params := map[string]string{}
	for i, seg := range tmpl {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			params[strings.TrimSuffix(name, "}")] = segs[i]
		}
	}
	s, err := o.scope(params)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flipSignature corrupts one bit of the Signature header's byte sequence.
func flipSignature(r *http.Request) {
	v := r.Header.Get("Signature")
	i, j := strings.IndexByte(v, ':'), strings.LastIndexByte(v, ':')
	b, err := base64.StdEncoding.DecodeString(v[i+1 : j])
	if err != nil {
		panic(err)
	}
	b[len(b)/2] ^= 1
	r.Header.Set("Signature", v[:i+1]+base64.StdEncoding.EncodeToString(b)+v[j:])
}

// TestWriteAuth walks every x-polity-write operation of the spec with each
// way a write must be refused, and one way it is accepted.
func TestWriteAuth(t *testing.T) {
	tn := newTestNet(t)
	// An agency DID registered on the identity chain with key-1 (k1),
	// holding writer for the health chain; operations on another chain
	// (the identity endpoints) get it writer at exactly their scope.
	k1, k2 := tn.key(), tn.key()
	tn.grant(tn.keyDID(tn.operator), registry.RoleRegistrar, registry.Scope{Chain: "identity", Module: registry.DIDModule, Method: registry.Wildcard})
	doc := tn.registerOrg(k1)
	health := registry.Scope{Chain: "health", Module: registry.Wildcard, Method: registry.Wildcard}
	tn.grant(doc.ID, RoleWriter, health)
	old := &signer{key: k1, keyid: doc.ID + "#key-1"}
	// The old key works before the rotation...
	tn.commit(old, tn.tx(tn.key(), "health", "records", "put", map[string]string{"id": "before-rotation", "data": "x"}))
	// ...and is refused after it (case "rotated-out key").
	tn.rotate(doc, k1, k2, "key-2")
	agency := func() *signer { return &signer{key: k2, keyid: doc.ID + "#key-2"} }
	// A key DID holding writer for the health chain only.
	healthWriter := &signer{key: tn.key()}
	tn.grant(tn.keyDID(healthWriter.key), RoleWriter, health)
	stranger := tn.key()
	now := time.Now()

	for _, op := range specWriteOps(t) {
		t.Run(op.id, func(t *testing.T) {
			tn.t = t
			gpath, gbody := op.generic()
			refuse := []struct {
				name string
				sg   *signer
			}{
				{"no signature", nil},
				{"bad signature", &signer{key: k2, keyid: doc.ID + "#key-2", mangle: flipSignature}},
				{"signed by another key", &signer{key: stranger, keyid: doc.ID + "#key-2"}},
				{"expired", &signer{key: k2, keyid: doc.ID + "#key-2", opts: httpsig.SignOptions{Now: now.Add(-10 * time.Minute)}}},
				{"created in the future", &signer{key: k2, keyid: doc.ID + "#key-2", opts: httpsig.SignOptions{Now: now.Add(10 * time.Minute)}}},
				{"key not in the DID document", &signer{key: stranger, keyid: doc.ID + "#key-9"}},
				{"rotated-out key", old},
				{"key DID without its key", &signer{key: stranger, presented: "-"}},
				// Signed by stranger, claiming the operator's key DID.
				{"key DID with another key", &signer{key: stranger, keyid: tn.keyDID(tn.operator) + "#key-0", presented: base64.StdEncoding.EncodeToString(stranger.Public().Bytes())}},
				{"key DID method other than key-0", &signer{key: stranger, keyid: tn.keyDID(stranger) + "#key-1", presented: base64.StdEncoding.EncodeToString(stranger.Public().Bytes())}},
				{"unregistered DID", &signer{key: stranger, keyid: "did:polity:0123456789abcdef0123456789abcdef#key-1"}},
			}
			for _, c := range refuse {
				r := tn.do(tn.request(c.sg, op.method, gpath, gbody))
				if r.status != http.StatusUnauthorized || r.code != CodeUnauthenticated {
					t.Errorf("%s: got %d %s (%s), want 401 %s", c.name, r.status, r.code, r.detail, CodeUnauthenticated)
				}
			}

			var build validRequest
			for id, b := range validRequests { // the embedded spec capitalises IDs
				if strings.EqualFold(id, op.id) {
					build = b
				}
			}
			if build == nil {
				t.Fatalf("no valid request for write operation %s: add one to validRequests so its 403 and accepted cases run", op.id)
			}
			// The builder runs once for health: the refusals below reuse
			// its request (authorisation comes before the handler), so a
			// builder's transactions never leave a nonce gap.
			method, path, body := build(tn, "health")
			need := op.requestScope(t, path, body)
			legit := agency
			switch {
			case op.role == registry.RoleAdmin:
				legit = tn.admin
			case need.Chain != "health":
				tn.ensureRole(doc.ID, RoleWriter, need)
			}

			// Replayed: the same signed request twice; the first is
			// accepted, the second refused.
			req := tn.request(legit(), method, path, body)
			again := req.Clone(req.Context())
			again.Body, _ = req.GetBody()
			r := tn.do(req)
			onlyAuth := ""
			for id, why := range authOnly {
				if strings.EqualFold(id, op.id) {
					onlyAuth = why
				}
			}
			switch {
			case onlyAuth != "":
				if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
					t.Fatalf("authorised request: got %d %s (%s)", r.status, r.code, r.detail)
				}
				t.Logf("authorised; handler answered %d %s (%s)", r.status, r.code, onlyAuth)
			case r.status >= 300 || (r.tx.Receipt != nil && r.tx.Receipt.Status != openapi.ReceiptStatusOk):
				t.Fatalf("accepted request: got %d %s (%s) %+v", r.status, r.code, r.detail, r.tx.Receipt)
			}
			if r := tn.do(again); r.status != http.StatusUnauthorized || !strings.Contains(r.detail, "replayed") {
				t.Errorf("replayed: got %d %s (%s), want 401 replayed", r.status, r.code, r.detail)
			}

			forbid := func(name string, sg *signer, method, path string, body []byte) {
				t.Helper()
				if r := tn.do(tn.request(sg, method, path, body)); r.status != http.StatusForbidden || r.code != CodeForbidden {
					t.Errorf("%s: got %d %s (%s), want 403 %s", name, r.status, r.code, r.detail, CodeForbidden)
				}
			}
			// A writer of another chain: for an operation writing the
			// chain it is given, the agency on another department's
			// chain; otherwise a writer of the health chain.
			if need.Chain == "health" {
				m, p, b := build(tn, "education")
				forbid("writer of another department", agency(), m, p, b)
			} else {
				forbid("writer of another chain", healthWriter, method, path, body)
			}
			// A writer of another method of the same module.
			if need.Method != registry.Wildcard {
				sibling := &signer{key: tn.key()}
				tn.grant(tn.keyDID(sibling.key), RoleWriter, registry.Scope{Chain: need.Chain, Module: need.Module, Method: "other-method"})
				forbid("writer of another method", sibling, method, path, body)
			}
			// A signed caller with no role at all.
			forbid("no role", &signer{key: stranger}, method, path, body)
		})
	}
	tn.t = t
}

// TestWriteAuthScopes: roles are per chain, module and method; admin
// implies writer; reads need no signature.
func TestWriteAuthScopes(t *testing.T) {
	tn := newTestNet(t)
	alice := tn.key()
	aliceDID := tn.keyDID(alice)
	as := &signer{key: alice}
	tn.grant(aliceDID, RoleWriter, registry.Scope{Chain: "health", Module: "records", Method: "put"})

	put := func(sg *signer, chainID, method string) reply {
		tx := tn.tx(tn.key(), chainID, "records", method, map[string]string{"id": "a", "data": "x"})
		return tn.do(tn.request(sg, "POST", submitPath(chainID), submitBody(tx)))
	}
	if r := put(as, "health", "put"); r.status != http.StatusOK {
		t.Fatalf("writer at health/records/put: %d %s %s", r.status, r.code, r.detail)
	}
	if r := put(as, "health", "delete"); r.status != http.StatusForbidden {
		t.Fatalf("writer at put calling delete: %d %s %s", r.status, r.code, r.detail)
	}
	// An admin grant scoped to a chain covers every module and method there.
	bob := tn.key()
	tn.grant(tn.keyDID(bob), registry.RoleAdmin, registry.Scope{Chain: "justice", Module: registry.Wildcard, Method: registry.Wildcard})
	if r := put(&signer{key: bob}, "justice", "put"); r.status != http.StatusOK {
		t.Fatalf("chain admin: %d %s %s", r.status, r.code, r.detail)
	}
	if r := put(&signer{key: bob}, "health", "put"); r.status != http.StatusForbidden {
		t.Fatalf("justice admin on health: %d %s %s", r.status, r.code, r.detail)
	}
	// Revoking the role takes effect on the next request.
	tn.commit(tn.admin(), tn.tx(tn.operator, "identity", registry.RolesModule, "revoke", registry.GrantArgs{Holder: aliceDID, Role: RoleWriter, Scope: registry.Scope{Chain: "health", Module: "records", Method: "put"}}))
	if r := put(as, "health", "put"); r.status != http.StatusForbidden {
		t.Fatalf("after revoke: %d %s %s", r.status, r.code, r.detail)
	}
	// Reads are not signed.
	if r := tn.do(tn.request(nil, "GET", "/v1/chains/health", nil)); r.status >= 300 {
		t.Fatalf("unsigned read: %d %s", r.status, r.code)
	}
	// Validation still answers 400 (after authentication) for a signed,
	// malformed body.
	if r := tn.do(tn.request(tn.admin(), "POST", submitPath("health"), []byte(`{"tx":"AAAA","extra":1}`))); r.status != http.StatusBadRequest {
		t.Fatalf("malformed body: %d %s", r.status, r.code)
	}
}

// TestWritePolicyFromSpec: the policy is read from the extensions, and
// malformed ones are refused at startup.
func TestWritePolicyFromSpec(t *testing.T) {
	// Transactions are authorised by the scope they write, whichever
	// endpoint submits them (docs/auth.md): the typed identity endpoints
	// must not be a way around submitTransaction's policy.
	for _, op := range specWriteOps(t) {
		txOp := strings.EqualFold(op.id, "submitTransaction") || strings.HasPrefix(op.path, "/v1/identity/")
		if txOp && (!op.fromTx || op.role != RoleWriter) {
			t.Fatalf("%s policy %+v: want from transaction, role writer", op.id, op.writeOp)
		}
		if strings.EqualFold(op.id, "submitTransactionBatch") && (!op.fromTxs || op.role != RoleWriter) {
			t.Fatalf("%s policy %+v: want from transactions, role writer", op.id, op.writeOp)
		}
	}
	mk := func(ext map[string]any) *openapi3.T {
		op := openapi3.NewOperation()
		op.OperationID = "doIt"
		op.Extensions = ext
		op.Parameters = openapi3.Parameters{{Value: &openapi3.Parameter{Name: "chain", In: "path"}}}
		paths := openapi3.NewPaths()
		paths.Set("/v1/x/{chain}", &openapi3.PathItem{Post: op})
		return &openapi3.T{Paths: paths}
	}
	good := []map[string]any{
		{ExtWrite: true},
		{ExtWrite: true, ExtScope: map[string]any{"chain": "{chain}", "module": "records", "method": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"role": "admin", "chain": "*", "module": "*", "method": "*"}},
		{ExtWrite: false},
		{ExtWrite: true, ExtScope: map[string]any{"from": "transactions"}},
	}
	for _, ext := range good {
		if _, err := loadWritePolicy(mk(ext)); err != nil {
			t.Errorf("%v: %v", ext, err)
		}
	}
	pol, _ := loadWritePolicy(mk(map[string]any{ExtWrite: true}))
	if o := pol["doIt"]; o == nil || o.role != registry.RoleAdmin || o.chain != "*" {
		t.Fatalf("write without scope must need admin everywhere: %+v", o)
	}
	s, err := pol["doIt"].scope(nil)
	if err != nil || s != (registry.Scope{Chain: "*", Module: "*", Method: "*"}) {
		t.Fatalf("scope %+v %v", s, err)
	}
	bad := []map[string]any{
		{ExtWrite: "yes"},
		{ExtScope: map[string]any{"from": "transaction"}}, // scope without write
		{ExtWrite: true, ExtScope: "transaction"},
		{ExtWrite: true, ExtScope: map[string]any{"from": "body"}},
		{ExtWrite: true, ExtScope: map[string]any{"from": "transaction", "role": "admin"}},
		{ExtWrite: true, ExtScope: map[string]any{"from": "transactions", "chain": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"role": "root", "chain": "*", "module": "*", "method": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"chain": "{nosuch}", "module": "*", "method": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"chain": "*", "module": "Bad Name", "method": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"chain": "*", "module": "*"}},
		{ExtWrite: true, ExtScope: map[string]any{"chain": "*", "module": "*", "method": "*", "extra": "x"}},
	}
	for _, ext := range bad {
		if _, err := loadWritePolicy(mk(ext)); err == nil {
			t.Errorf("%v accepted", ext)
		}
	}
}
