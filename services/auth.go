package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/identity/httpsig"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/openapi"
)

// authenticator guards the write operations of the spec (authpolicy.go):
// authenticate (before request validation) checks the RFC 9421 signature
// against the caller DID's current key on the identity chain; authorise
// (after validation, so the body is well-formed) checks the DID holds the
// operation's role at its scope on that chain.
type authenticator struct {
	router routers.Router
	policy writePolicy
	log    *slog.Logger
	// ident is the identity chain's replica; nil when the node hosts none,
	// and then every write answers 503.
	ident    *replica.Replica
	params   *registry.Params
	verifier *httpsig.Verifier
}

// AuthConfig tunes request authentication.
type AuthConfig struct {
	// Signature is the RFC 9421 verifier's configuration; Keys is set by
	// the server (the identity chain).
	Signature httpsig.Config
}

// DefaultAuthConfig returns the defaults: httpsig.DefaultConfig (30 s clock
// skew, at most 5 min validity, a replay cache of 2^20 nonces).
func DefaultAuthConfig() AuthConfig {
	return AuthConfig{Signature: httpsig.DefaultConfig()}
}

// identityChain returns the node's identity chain, nil if it hosts none.
func identityChain(n *node.Node) (*replica.Replica, error) {
	var found *replica.Replica
	for _, r := range n.Chains() {
		if r.Genesis().Kind != chain.KindIdentity {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("node hosts two identity chains (%s, %s)", found.Genesis().ChainID, r.Genesis().ChainID)
		}
		found = r
	}
	return found, nil
}

func newAuthenticator(n *node.Node, spec *openapi3.T, cfg AuthConfig, log *slog.Logger) (*authenticator, error) {
	pol, err := loadWritePolicy(spec)
	if err != nil {
		return nil, fmt.Errorf("write policy: %w", err)
	}
	rt, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	a := &authenticator{router: rt, policy: pol, log: log}
	if a.ident, err = identityChain(n); err != nil {
		return nil, err
	}
	if a.ident == nil {
		log.Warn("no identity chain hosted: write operations answer 503", "writes", pol.ids())
		return a, nil
	}
	g := a.ident.Genesis()
	if a.params, err = registry.ParseParams(g.Params[registry.RolesModule]); err != nil {
		return nil, fmt.Errorf("identity chain %s: %w", g.ChainID, err)
	}
	sc := cfg.Signature
	sc.Keys = &chainKeys{rep: a.ident, suite: a.ident.Suite()}
	if sc.Now == nil {
		sc.Now = time.Now
	}
	if a.verifier, err = httpsig.NewVerifier(sc); err != nil {
		return nil, err
	}
	return a, nil
}

// authState is what authenticate hands to authorise.
type authState struct {
	op     *writeOp
	params map[string]string
	caller *httpsig.Result
	body   []byte // the signed body
}

type authCtx struct{}

// Caller returns the authenticated signer of a write operation: its DID
// and the verification method that signed. Handlers of write operations
// may rely on it being set.
func Caller(ctx context.Context) (*httpsig.Result, bool) {
	st, ok := ctx.Value(authCtx{}).(*authState)
	if !ok {
		return nil, false
	}
	return st.caller, true
}

// authenticate verifies the signature of every request for a write
// operation and answers 401 unauthenticated when it is missing or invalid.
// Other requests pass untouched (unmatched routes are the validator's 404).
func (a *authenticator) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := a.router.FindRoute(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		op := a.policy[route.Operation.OperationID]
		if op == nil {
			next.ServeHTTP(w, r)
			return
		}
		if a.verifier == nil {
			a.fail(w, problemf(CodeAuthUnavailable, "this node hosts no identity chain to authenticate writes against"))
			return
		}
		body, err := bodyOf(r)
		if err != nil {
			a.fail(w, problemf(CodeBadRequest, "reading body: "+err.Error()))
			return
		}
		ctx := r.Context()
		if k := r.Header.Get(PublicKeyHeader); k != "" {
			ctx = context.WithValue(ctx, presentedKeyCtx{}, k)
		}
		res, err := a.verifier.Verify(r.WithContext(ctx), body)
		if err != nil {
			a.fail(w, signatureProblem(err))
			return
		}
		st := &authState{op: op, params: params, caller: res, body: body}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authCtx{}, st)))
	})
}

// signatureProblem maps a verification failure to a problem.
func signatureProblem(err error) error {
	for _, e := range []error{httpsig.ErrMissing, httpsig.ErrMalformed, httpsig.ErrUnsupported, httpsig.ErrMissingComponent,
		httpsig.ErrExpired, httpsig.ErrNotYetValid, httpsig.ErrValidity, httpsig.ErrDigest, httpsig.ErrUnknownKey,
		httpsig.ErrBadSignature, httpsig.ErrReplay} {
		if errors.Is(err, e) {
			return problemf(CodeUnauthenticated, err.Error())
		}
	}
	if errors.Is(err, httpsig.ErrBusy) {
		return problemf(CodeAuthUnavailable, "too many recent signatures to remember; retry shortly")
	}
	return fmt.Errorf("authenticate: %w", err) // a store failure: internal
}

// authorise checks the authenticated caller holds the operation's role at
// its scope, answering 403 forbidden otherwise. It runs after request
// validation, so a body it decodes is well-formed JSON of the schema.
func (a *authenticator) authorise(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, ok := r.Context().Value(authCtx{}).(*authState)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		scopes, err := a.scopesOf(st)
		if err != nil {
			a.fail(w, err)
			return
		}
		for _, s := range scopes {
			if err := a.check(st.caller.DID, st.op.role, s); err != nil {
				a.fail(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// scopesOf resolves the scopes a request needs, each once.
func (a *authenticator) scopesOf(st *authState) ([]registry.Scope, error) {
	if !st.op.fromTx && !st.op.fromTxs {
		s, err := st.op.scope(st.params)
		if err != nil {
			return nil, problemf(CodeBadRequest, err.Error())
		}
		return []registry.Scope{s}, nil
	}
	body := st.body
	if st.op.fromTxs {
		return batchScopes(body)
	}
	var req openapi.SubmitRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, problemf(CodeBadRequest, "body: "+err.Error())
	}
	tx, err := chain.DecodeTx(req.Tx)
	if err != nil {
		return nil, err // malformed_transaction
	}
	return []registry.Scope{txScope(tx)}, nil
}

func txScope(tx *chain.Tx) registry.Scope {
	return registry.Scope{Chain: tx.ChainID, Module: tx.Module, Method: tx.Method}
}

// check reports whether did holds role at scope (admin implies writer).
func (a *authenticator) check(did, role string, s registry.Scope) error {
	read := registry.Reader(a.ident.Ledger().Get)
	roles := []string{registry.RoleAdmin}
	if role == RoleWriter {
		roles = []string{RoleWriter, registry.RoleAdmin}
	}
	for _, rl := range roles {
		ok, err := registry.HasRole(read, a.params, did, rl, s)
		if errors.Is(err, registry.ErrBadArgs) {
			return problemf(CodeBadRequest, err.Error())
		}
		if err != nil {
			return fmt.Errorf("authorise: %w", err)
		}
		if ok {
			return nil
		}
	}
	want := role
	if role == RoleWriter {
		want = RoleWriter + " or " + registry.RoleAdmin
	}
	return problemf(CodeForbidden, fmt.Sprintf("%s does not hold %s for %s/%s/%s on chain %s", did, want, s.Chain, s.Module, s.Method, a.ident.Genesis().ChainID))
}

func (a *authenticator) fail(w http.ResponseWriter, err error) {
	p := toProblem(a.log, err)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Signature realm="polity"`)
	}
	writeProblem(w, p)
}
