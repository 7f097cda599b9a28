package services

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/domains/aggregate"
	"github.com/polityledger/polity/node/aggregation"
	"github.com/polityledger/polity/openapi"
)

// WithAggregation serves the node-local parts of the aggregate API (input,
// this node's side of a query, the node list) through d.
func WithAggregation(d *aggregation.Driver) Option { return func(s *Server) { s.agg = d } }

// governance returns the chain running the aggregate module.
func (s *Server) governance() (*replica.Replica, error) {
	if s.agg != nil {
		return s.chain(s.agg.ChainID())
	}
	for _, r := range s.node.Chains() {
		for _, m := range r.Genesis().Modules {
			if m == aggregate.Name {
				return r, nil
			}
		}
	}
	return nil, problemf(CodeAggregateUnavailable, "this node hosts no chain running the aggregate module")
}

// ListAggregateNodes implements openapi.StrictServerInterface.
func (s *Server) ListAggregateNodes(context.Context, openapi.ListAggregateNodesRequestObject) (openapi.ListAggregateNodesResponseObject, error) {
	if s.agg == nil {
		return nil, problemf(CodeAggregateUnavailable, "this node runs no aggregation driver")
	}
	nodes := s.agg.Nodes()
	out := openapi.ListAggregateNodes200JSONResponse{GovernanceChain: s.agg.ChainID(), Nodes: []openapi.AggregateNode{}}
	self := s.agg.Address().String()
	for id, a := range nodes {
		out.Nodes = append(out.Nodes, openapi.AggregateNode{Id: id, Address: a})
		if a == self {
			out.Self = id
		}
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Id < out.Nodes[j].Id })
	return out, nil
}

// ProposeAggregateQuery implements openapi.StrictServerInterface: it checks
// that the signed transaction calls aggregate.propose on the governance
// chain and submits it like SubmitTransaction.
func (s *Server) ProposeAggregateQuery(ctx context.Context, req openapi.ProposeAggregateQueryRequestObject) (openapi.ProposeAggregateQueryResponseObject, error) {
	g, err := s.governance()
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
	if tx.Module != aggregate.Name || tx.Method != "propose" {
		return nil, problemf(CodeAggregateWrongMethod, fmt.Sprintf("transaction calls %s.%s, not %s.propose", tx.Module, tx.Method, aggregate.Name))
	}
	var args aggregate.ProposeArgs
	if err := json.Unmarshal(tx.Args, &args); err != nil {
		return nil, problemf(CodeBadRequest, "propose arguments: "+err.Error())
	}
	if s.agg != nil {
		// Drivers run only on nodes: a query naming anyone else could
		// never run and would wait for its deadline.
		known := map[string]bool{}
		for _, a := range s.agg.Nodes() {
			known[a] = true
		}
		for _, a := range append(args.Participants, args.Aggregator) {
			if !known[a] {
				return nil, problemf(CodeAggregateUnknownNode, fmt.Sprintf("%q is not the address of a node of this federation (participants and the aggregator must be nodes)", a))
			}
		}
	}
	resp, err := s.SubmitTransaction(ctx, openapi.SubmitTransactionRequestObject{
		Chain: g.Genesis().ChainID, Params: openapi.SubmitTransactionParams{Wait: req.Params.Wait}, Body: req.Body,
	})
	if err != nil {
		return nil, err
	}
	switch r := resp.(type) {
	case openapi.SubmitTransaction200JSONResponse:
		return openapi.ProposeAggregateQuery200JSONResponse(r), nil
	case openapi.SubmitTransaction202JSONResponse:
		return openapi.ProposeAggregateQuery202JSONResponse(r), nil
	}
	return nil, fmt.Errorf("unexpected submit response %T", resp)
}

// GetAggregateQuery implements openapi.StrictServerInterface.
func (s *Server) GetAggregateQuery(_ context.Context, req openapi.GetAggregateQueryRequestObject) (openapi.GetAggregateQueryResponseObject, error) {
	g, err := s.governance()
	if err != nil {
		return nil, err
	}
	h := g.Ledger().Height()
	raw, err := g.Ledger().Get(aggregate.StateKey(req.Id))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, problemf(CodeNotFound, fmt.Sprintf("no aggregation query %q on chain %s", req.Id, g.Genesis().ChainID))
	}
	var q aggregate.Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, fmt.Errorf("query %q record: %w", req.Id, err)
	}
	out := openapi.GetAggregateQuery200JSONResponse{
		Id: q.ID, Description: q.Description, Proposer: q.Proposer, Aggregator: q.Aggregator,
		Threshold: q.Threshold, VectorLen: q.VectorLen, Deadline: q.Deadline, ProposedAt: q.ProposedAt,
		Phase: openapi.AggregateQueryPhase(q.Phase), Height: h, Participants: []openapi.AggregateParticipant{},
		AggregateHash: opt(q.AggregateHash), ResultHash: opt(q.ResultHash),
	}
	if q.DeadlineTime != 0 {
		out.DeadlineTime = &q.DeadlineTime
	}
	if q.ClosedAt != 0 {
		out.ClosedAt = &q.ClosedAt
	}
	if q.Result != nil {
		out.Result = &q.Result
	}
	var names map[string]string
	if s.agg != nil {
		names = map[string]string{}
		for id, a := range s.agg.Nodes() {
			names[a] = id
		}
	}
	for i, a := range q.Participants {
		p := openapi.AggregateParticipant{Address: a, Approved: at(q.Approved, i),
			BoxKey: opt(atS(q.BoxKeys, i)), KeyShareHash: opt(atS(q.KeyShares, i)),
			ContributionHash: opt(atS(q.Contributions, i)), DecryptionShareHash: opt(atS(q.DecryptionShares, i))}
		if n, ok := names[a]; ok {
			p.Node = &n
		}
		out.Participants = append(out.Participants, p)
	}
	if s.agg != nil {
		if l, ok := s.agg.Local(q.ID); ok {
			out.Local = &openapi.AggregateLocal{Role: openapi.AggregateLocalRole(l.Role), State: l.State, Input: l.Input, Error: opt(l.Error)}
		}
	}
	return out, nil
}

// SubmitAggregateInput implements openapi.StrictServerInterface.
func (s *Server) SubmitAggregateInput(ctx context.Context, req openapi.SubmitAggregateInputRequestObject) (openapi.SubmitAggregateInputResponseObject, error) {
	if s.agg == nil {
		return nil, problemf(CodeAggregateUnavailable, "this node runs no aggregation driver")
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body must carry \"values\"")
	}
	tx, err := s.agg.SubmitInput(ctx, req.Id, req.Body.Values)
	if err != nil {
		return nil, err
	}
	return openapi.SubmitAggregateInput202JSONResponse{QueryId: req.Id, ApproveTx: tx.String()}, nil
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func at(b []bool, i int) bool {
	return i < len(b) && b[i]
}

func atS(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
