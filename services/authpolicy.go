package services

import (
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/identity/registry"
)

// The write policy is read from the OpenAPI document, so an operation
// cannot be added without one:
//
//	x-polity-write: true           the operation changes state: it must be
//	                               signed (RFC 9421) by a key of the caller's DID
//	x-polity-scope:                the role the caller must hold, and where
//	  role: writer                 writer (default) or admin
//	  chain: "{chain}"             a chain ID, "*" or "{param}" (a path parameter)
//	  module: records              a module name or "*"
//	  method: put                  a method name or "*"
//	x-polity-scope: { from: transaction }
//	                               the submitted transaction's chain, module and
//	                               method, with role writer
//	x-polity-scope: { from: transactions }
//	                               the same for every transaction of a batch
//	                               (the body's "txs")
//
// A write operation without x-polity-scope needs admin at every scope: a
// forgotten scope fails closed.

// Spec extensions read by the policy.
const (
	ExtWrite = "x-polity-write"
	ExtScope = "x-polity-scope"
)

// RoleWriter is the role that lets a DID call write operations at a scope
// (chain, module, method). registry.RoleAdmin at a covering scope implies it.
const RoleWriter = "writer"

// The x-polity-scope "from" values: the scope of the transaction in the
// request body ("tx"), or of each transaction in it ("txs").
const (
	scopeFromTransaction  = "transaction"
	scopeFromTransactions = "transactions"
)

// writeOp is the policy of one write operation.
type writeOp struct {
	id   string
	role string
	// fromTx takes the scope from the submitted transaction, fromTxs from
	// each transaction of a batch; otherwise chain, module and method are
	// templates: a name, "*" or "{param}".
	fromTx, fromTxs       bool
	chain, module, method string
}

// scope resolves the operation's templates with the request's path
// parameters.
func (o *writeOp) scope(params map[string]string) (registry.Scope, error) {
	part := func(t string) (string, error) {
		if p, ok := strings.CutPrefix(t, "{"); ok {
			v := params[strings.TrimSuffix(p, "}")]
			if v != registry.Wildcard && !chain.ValidName(v) {
				return "", fmt.Errorf("path parameter %s: %q is not a name", t, v)
			}
			return v, nil
		}
		return t, nil
	}
	var s registry.Scope
	var err error
	if s.Chain, err = part(o.chain); err != nil {
		return s, err
	}
	if s.Module, err = part(o.module); err != nil {
		return s, err
	}
	s.Method, err = part(o.method)
	return s, err
}

// writePolicy maps operation IDs to their policy.
type writePolicy map[string]*writeOp

// ids returns the write operations' IDs, sorted.
func (p writePolicy) ids() []string {
	out := make([]string, 0, len(p))
	for id := range p {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// loadWritePolicy reads every operation's extensions. It fails on a
// malformed extension, a scope on an operation not marked as a write, or a
// template naming a path parameter the operation lacks.
func loadWritePolicy(spec *openapi3.T) (writePolicy, error) {
	pol := writePolicy{}
	if spec.Paths == nil {
		return pol, nil
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			w, err := opWrite(op)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			_, hasScope := op.Extensions[ExtScope]
			if !w {
				if hasScope {
					return nil, fmt.Errorf("%s: %s without %s: true", where, ExtScope, ExtWrite)
				}
				continue
			}
			if op.OperationID == "" {
				return nil, fmt.Errorf("%s: a write operation needs an operationId", where)
			}
			o, err := opScope(op, pathParams(item, op))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			o.id = op.OperationID
			pol[o.id] = o
		}
	}
	return pol, nil
}

func opWrite(op *openapi3.Operation) (bool, error) {
	v, ok := op.Extensions[ExtWrite]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s must be a boolean, not %T", ExtWrite, v)
	}
	return b, nil
}

func pathParams(item *openapi3.PathItem, op *openapi3.Operation) map[string]bool {
	out := map[string]bool{}
	for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range ps {
			if p != nil && p.Value != nil && p.Value.In == openapi3.ParameterInPath {
				out[p.Value.Name] = true
			}
		}
	}
	return out
}

// opScope decodes x-polity-scope.
func opScope(op *openapi3.Operation, params map[string]bool) (*writeOp, error) {
	raw, ok := op.Extensions[ExtScope]
	if !ok {
		return &writeOp{role: registry.RoleAdmin, chain: registry.Wildcard, module: registry.Wildcard, method: registry.Wildcard}, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an object, not %T", ExtScope, raw)
	}
	str := map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s.%s must be a string", ExtScope, k)
		}
		switch k {
		case "from", "role", "chain", "module", "method":
		default:
			return nil, fmt.Errorf("%s: unknown field %q", ExtScope, k)
		}
		str[k] = s
	}
	o := &writeOp{role: RoleWriter}
	if r, ok := str["role"]; ok {
		if r != RoleWriter && r != registry.RoleAdmin {
			return nil, fmt.Errorf("%s.role %q: want %s or %s", ExtScope, r, RoleWriter, registry.RoleAdmin)
		}
		o.role = r
	}
	if from, ok := str["from"]; ok {
		if from != scopeFromTransaction && from != scopeFromTransactions {
			return nil, fmt.Errorf("%s.from %q: only %q or %q", ExtScope, from, scopeFromTransaction, scopeFromTransactions)
		}
		if len(str) != 1 {
			return nil, fmt.Errorf("%s: from takes no other field", ExtScope)
		}
		o.fromTx, o.fromTxs = from == scopeFromTransaction, from == scopeFromTransactions
		return o, nil
	}
	for _, k := range []string{"chain", "module", "method"} {
		t, ok := str[k]
		if !ok {
			return nil, fmt.Errorf("%s.%s required (a name, %q or {param})", ExtScope, k, registry.Wildcard)
		}
		if p, ok := strings.CutPrefix(t, "{"); ok {
			name, ok := strings.CutSuffix(p, "}")
			if !ok || !params[name] {
				return nil, fmt.Errorf("%s.%s %q names no path parameter of the operation", ExtScope, k, t)
			}
		} else if t != registry.Wildcard && !chain.ValidName(t) {
			return nil, fmt.Errorf("%s.%s %q is not a name", ExtScope, k, t)
		}
		switch k {
		case "chain":
			o.chain = t
		case "module":
			o.module = t
		case "method":
			o.method = t
		}
	}
	return o, nil
}
