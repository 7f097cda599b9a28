// Package services serves the HTTP API generated from openapi/polity.yaml:
// handlers implement the strict server interface over a node's chains;
// requests are size-limited and validated against the spec; every error is
// an RFC 9457 problem with a stable code.
package services

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/go-chi/chi/v5"
	middleware "github.com/oapi-codegen/nethttp-middleware"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/node/aggregation"
	"github.com/polityledger/polity/openapi"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 256 << 10

// MaxWait bounds how long a submit may wait for commit.
const MaxWait = 60 * time.Second

// Server implements openapi.StrictServerInterface over a node.
type Server struct {
	node *node.Node
	log  *slog.Logger
	agg  *aggregation.Driver // nil: this node runs no aggregation driver
	zk   *zkChallenges       // the zk verifier's single-use challenges (zk.go)
}

// Option configures a Server.
type Option func(*Server)

var _ openapi.StrictServerInterface = (*Server)(nil)

// New returns the API's http.Handler for n.
func New(n *node.Node, log *slog.Logger, opts ...Option) (http.Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := openapi.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI spec: %w", err)
	}
	spec.Servers = nil // validate paths regardless of the host clients use
	s := &Server{node: n, log: log, zk: newZKChallenges(MaxZKChallenges)}
	for _, o := range opts {
		o(s)
	}
	auth, err := newAuthenticator(n, spec, DefaultAuthConfig(), log)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(limitBody)
	r.Use(auth.authenticate) // write operations: 401 before validation
	r.Use(middleware.OapiRequestValidatorWithOptions(spec, &middleware.Options{
		Options:               openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		SilenceServersWarning: true,
		ErrorHandler: func(w http.ResponseWriter, msg string, status int) {
			code := CodeBadRequest
			switch status {
			case http.StatusNotFound:
				code = CodeNotFound
			case http.StatusMethodNotAllowed:
				code = CodeMethodNotAllowed
			}
			p := toProblem(log, problemf(code, msg))
			writeProblem(w, p)
		},
	}))
	r.Use(auth.authorise) // write operations: 403 after validation
	strict := openapi.NewStrictHandlerWithOptions(s, nil, openapi.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeProblem(w, toProblem(log, problemf(CodeBadRequest, err.Error())))
		},
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeProblem(w, toProblem(log, err))
		},
	})
	return openapi.HandlerWithOptions(strict, openapi.ChiServerOptions{
		BaseRouter: r,
		ErrorHandlerFunc: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeProblem(w, toProblem(log, problemf(CodeBadRequest, err.Error())))
		},
	}), nil
}

// limitBody reads at most MaxBodyBytes of a request body, answering 413
// beyond that, so no handler or validator ever holds more. The bytes also
// go in the request's context (bodyOf), so the middlewares after it need
// not read and copy the body again.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeProblem(w, toProblem(nil, problemf(CodeTooLarge, fmt.Sprintf("body over %d bytes", MaxBodyBytes))))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				writeProblem(w, toProblem(nil, problemf(CodeBadRequest, "reading body: "+err.Error())))
				return
			}
			if len(b) > MaxBodyBytes {
				writeProblem(w, toProblem(nil, problemf(CodeTooLarge, fmt.Sprintf("body over %d bytes", MaxBodyBytes))))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), bodyCtx{}, b))
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

type bodyCtx struct{}

// bodyOf returns the request body limitBody read. Nobody may modify it. A
// body limitBody has not read is a wiring mistake, refused rather than read
// unbounded.
func bodyOf(r *http.Request) ([]byte, error) {
	if b, ok := r.Context().Value(bodyCtx{}).([]byte); ok {
		return b, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	return nil, errors.New("body not read by limitBody")
}

func (s *Server) chain(id string) (*replica.Replica, error) { return s.node.Chain(id) }

// GetHealth implements openapi.StrictServerInterface.
func (s *Server) GetHealth(context.Context, openapi.GetHealthRequestObject) (openapi.GetHealthResponseObject, error) {
	return openapi.GetHealth200JSONResponse{Status: openapi.HealthStatusOk, Chains: len(s.node.Chains())}, nil
}

func summary(r *replica.Replica) openapi.ChainSummary {
	g := r.Genesis()
	head, hash := r.Ledger().Head()
	pending, _ := r.PendingLen()
	base := r.Ledger().Base()
	mods := append([]string{}, g.Modules...)
	cs := openapi.ChainSummary{
		Id: g.ChainID, Kind: openapi.ChainSummaryKind(g.Kind), Consensus: openapi.ChainSummaryConsensus(g.Consensus),
		Suite: g.Suite, Height: head.Height, HeadHash: hash.String(), StateRoot: head.StateRoot.String(),
		Validators: len(g.Validators.Validators), Modules: &mods, Pending: &pending, Base: &base,
	}
	if g.Parent != "" {
		cs.Parent = &g.Parent
	}
	return cs
}

// ListChains implements openapi.StrictServerInterface.
func (s *Server) ListChains(context.Context, openapi.ListChainsRequestObject) (openapi.ListChainsResponseObject, error) {
	out := openapi.ListChains200JSONResponse{Chains: []openapi.ChainSummary{}}
	for _, r := range s.node.Chains() {
		out.Chains = append(out.Chains, summary(r))
	}
	return out, nil
}

// GetChain implements openapi.StrictServerInterface.
func (s *Server) GetChain(_ context.Context, req openapi.GetChainRequestObject) (openapi.GetChainResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	sum := summary(r)
	g0, _, err := r.Ledger().Header(0)
	if err != nil {
		return nil, err
	}
	var gen map[string]any
	if err := json.Unmarshal(r.Genesis().Encode(), &gen); err != nil {
		return nil, err
	}
	return openapi.GetChain200JSONResponse{
		Id: sum.Id, Kind: openapi.ChainDetailKind(sum.Kind), Consensus: openapi.ChainDetailConsensus(sum.Consensus),
		Suite: sum.Suite, Height: sum.Height, HeadHash: sum.HeadHash, StateRoot: sum.StateRoot,
		Validators: sum.Validators, Modules: sum.Modules, Pending: sum.Pending, Parent: sum.Parent, Base: sum.Base,
		GenesisHash: g0.Hash(r.Suite()).String(), Genesis: gen,
	}, nil
}

// GetBlock implements openapi.StrictServerInterface.
func (s *Server) GetBlock(_ context.Context, req openapi.GetBlockRequestObject) (openapi.GetBlockResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	if req.Height > r.Ledger().Height() {
		return nil, problemf(CodeNotFound, fmt.Sprintf("block %d not committed (height %d)", req.Height, r.Ledger().Height()))
	}
	b, err := r.Ledger().Block(req.Height)
	if err != nil {
		return nil, err
	}
	out := openapi.GetBlock200JSONResponse{Header: headerJSON(r.Suite(), &b.Header), Commit: []openapi.CommitSig{}, Transactions: []openapi.TxBody{}}
	for _, cs := range b.Commit.Sigs {
		out.Commit = append(out.Commit, openapi.CommitSig{Index: int(cs.Index), Signature: cs.Sig})
	}
	for _, tx := range b.Txs {
		out.Transactions = append(out.Transactions, txJSON(r.Suite(), tx))
	}
	return out, nil
}

// committedReplay reports whether the transaction id, which Submit refused,
// is itself committed (a client resubmitting its own transaction). The
// ledger publishes a block's state with its transactions, so a nonce seen
// used means the transaction that used it is found.
func committedReplay(r *replica.Replica, id crypto.Hash) bool {
	if id.IsZero() {
		return false
	}
	st, _, _, err := r.TxState(id)
	return err == nil && st == replica.TxCommitted
}

// SubmitTransaction implements openapi.StrictServerInterface.
func (s *Server) SubmitTransaction(ctx context.Context, req openapi.SubmitTransactionRequestObject) (openapi.SubmitTransactionResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	if req.Body == nil || len(req.Body.Tx) == 0 {
		return nil, problemf(CodeMalformedTx, "body must carry the base64 transaction in \"tx\"")
	}
	tx, err := chain.DecodeTx(req.Body.Tx)
	if err != nil {
		return nil, err
	}
	if tx.ChainID != req.Chain {
		return nil, problemf(CodeWrongChain, fmt.Sprintf("transaction is for chain %q, posted to %q", tx.ChainID, req.Chain))
	}
	wait := 0
	if req.Params.Wait != nil {
		wait = *req.Params.Wait
	}
	var watch *replica.TxWatch
	if wait > 0 {
		watch = r.Watch(tx.ID(r.Suite())) // before admission: see replica.Watch
	}
	id, err := r.Submit(tx)
	if err != nil {
		if watch != nil {
			watch.Cancel()
		}
		if committedReplay(r, id) {
			return nil, problemf(CodeReplayed, "transaction "+id.String()+" is already committed")
		}
		return nil, err
	}
	if watch != nil {
		wctx, cancel := context.WithTimeout(ctx, min(time.Duration(wait)*time.Second, MaxWait))
		defer cancel()
		if _, _, err := watch.Wait(wctx); err == nil {
			t, err := s.committedTx(r, id)
			if err != nil {
				return nil, err
			}
			return openapi.SubmitTransaction200JSONResponse(*t), nil
		} else if !errors.Is(err, replica.ErrNotCommitted) {
			return nil, err
		}
	}
	body := txJSON(r.Suite(), tx)
	return openapi.SubmitTransaction202JSONResponse{Id: id.String(), ChainId: req.Chain, Status: openapi.Pending, Tx: &body}, nil
}

// GetTransaction implements openapi.StrictServerInterface.
func (s *Server) GetTransaction(_ context.Context, req openapi.GetTransactionRequestObject) (openapi.GetTransactionResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	id, err := crypto.ParseHash(req.Txid)
	if err != nil {
		return nil, problemf(CodeBadRequest, err.Error())
	}
	st, _, _, err := r.TxState(id)
	if err != nil {
		return nil, err
	}
	switch st {
	case replica.TxPending:
		return openapi.GetTransaction200JSONResponse{Id: id.String(), ChainId: req.Chain, Status: openapi.Pending}, nil
	case replica.TxUnknown:
		return nil, problemf(CodeNotFound, "no transaction "+id.String()+" on chain "+req.Chain)
	}
	t, err := s.committedTx(r, id)
	if err != nil {
		return nil, err
	}
	return openapi.GetTransaction200JSONResponse(*t), nil
}

func (s *Server) committedTx(r *replica.Replica, id crypto.Hash) (*openapi.Transaction, error) {
	ct, err := r.TxProof(id)
	if err != nil {
		return nil, err
	}
	enc, err := ct.Bundle.Encode()
	if err != nil {
		return nil, err
	}
	b := ct.Bundle
	hdr := headerJSON(r.Suite(), &b.Header)
	body := txJSON(r.Suite(), b.Tx)
	rc := receiptJSON(b.Receipt)
	return &openapi.Transaction{
		Id: id.String(), ChainId: b.Header.ChainID, Status: openapi.Committed,
		Height: &ct.Height, Index: &ct.Index, Tx: &body, Receipt: &rc, Header: &hdr, Proof: &enc,
	}, nil
}

// GetAccount implements openapi.StrictServerInterface.
func (s *Server) GetAccount(_ context.Context, req openapi.GetAccountRequestObject) (openapi.GetAccountResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	a, err := chain.ParseAddress(req.Address)
	if err != nil {
		return nil, problemf(CodeBadRequest, err.Error())
	}
	committed, next, err := r.NextNonce(a)
	if err != nil {
		return nil, err
	}
	return openapi.GetAccount200JSONResponse{Address: a.String(), Nonce: committed, NextNonce: next}, nil
}

// GetState implements openapi.StrictServerInterface.
func (s *Server) GetState(_ context.Context, req openapi.GetStateRequestObject) (openapi.GetStateResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	if len(req.Params.Key) > module.MaxKeyLen {
		return nil, problemf(CodeBadRequest, "key too long")
	}
	h := r.Ledger().Height()
	if req.Params.Height != nil {
		if *req.Params.Height > h {
			return nil, problemf(CodeNotFound, fmt.Sprintf("height %d not committed (height %d)", *req.Params.Height, h))
		}
		h = *req.Params.Height
	}
	b, err := r.StateProof(module.StateKey(req.Params.Module, []byte(req.Params.Key)), h)
	if err != nil {
		return nil, err
	}
	enc, err := b.Encode()
	if err != nil {
		return nil, err
	}
	out := openapi.GetState200JSONResponse{Module: req.Params.Module, Key: req.Params.Key, Height: h, Present: b.ValueHash != nil, Proof: enc}
	if b.ValueHash != nil {
		vh := b.ValueHash.String()
		out.ValueHash = &vh
	}
	if b.Value != nil {
		out.Value = &b.Value
	}
	return out, nil
}
