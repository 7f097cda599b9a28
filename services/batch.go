package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
)

// MaxBatchTxs bounds the transactions of one submitTransactionBatch
// request (the spec's maxItems; the body is bounded by MaxBodyBytes too).
const MaxBatchTxs = 512

// decodeBatch decodes a submitTransactionBatch body: at most MaxBatchTxs
// transactions, every one decodable, else the whole request is refused
// (an undecodable entry has no scope to authorise).
func decodeBatch(body []byte) ([]*chain.Tx, error) {
	var req openapi.SubmitBatchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, problemf(CodeBadRequest, "body: "+err.Error())
	}
	return decodeTxs(req.Txs)
}

// decodeTxs strictly decodes a batch's entries.
func decodeTxs(raw [][]byte) ([]*chain.Tx, error) {
	if len(raw) == 0 || len(raw) > MaxBatchTxs {
		return nil, problemf(CodeBadRequest, fmt.Sprintf("a batch holds 1 to %d transactions, not %d", MaxBatchTxs, len(raw)))
	}
	txs := make([]*chain.Tx, len(raw))
	for i, b := range raw {
		tx, err := chain.DecodeTx(b)
		if err != nil {
			return nil, problemf(CodeMalformedTx, fmt.Sprintf("txs[%d]: %v", i, err))
		}
		txs[i] = tx
	}
	return txs, nil
}

// batchScopes is every distinct scope the transactions of a batch body
// write: the caller must hold writer at each (x-polity-scope from:
// transactions).
func batchScopes(body []byte) ([]registry.Scope, error) {
	txs, err := decodeBatch(body)
	if err != nil {
		return nil, err
	}
	seen := make(map[registry.Scope]bool)
	var out []registry.Scope
	for _, tx := range txs {
		if s := txScope(tx); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// SubmitTransactionBatch implements openapi.StrictServerInterface: each
// transaction is admitted or refused on its own, as SubmitTransaction would,
// with the signatures verified together.
func (s *Server) SubmitTransactionBatch(ctx context.Context, req openapi.SubmitTransactionBatchRequestObject) (openapi.SubmitTransactionBatchResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body must carry the base64 transactions in \"txs\"")
	}
	txs, err := decodeTxs(req.Body.Txs)
	if err != nil {
		return nil, err
	}
	out := make([]openapi.BatchResult, len(txs))
	var todo []*chain.Tx
	var at []int
	for i, tx := range txs {
		id := tx.ID(r.Suite()).String()
		out[i].Id = &id
		if tx.ChainID != req.Chain {
			s.reject(&out[i], problemf(CodeWrongChain, fmt.Sprintf("transaction is for chain %q, posted to %q", tx.ChainID, req.Chain)))
			continue
		}
		todo = append(todo, tx)
		at = append(at, i)
	}
	wait := req.Params.Wait != nil && *req.Params.Wait > 0
	// Watched before admission, so no commit is missed and waiting needs
	// no lookups (replica.Watch).
	watches := make([]*replica.TxWatch, len(todo))
	if wait {
		for j, tx := range todo {
			watches[j] = r.Watch(tx.ID(r.Suite()))
		}
	}
	var admitted []int
	for j, err := range r.SubmitBatch(todo) {
		res := &out[at[j]]
		if err != nil {
			if wait {
				watches[j].Cancel()
			}
			if committedReplay(r, todo[j].ID(r.Suite())) {
				err = problemf(CodeReplayed, "transaction "+*res.Id+" is already committed")
			}
			s.reject(res, err)
			continue
		}
		res.Status = openapi.BatchPending
		admitted = append(admitted, j)
	}
	if wait && len(admitted) > 0 {
		wctx, cancel := context.WithTimeout(ctx, min(time.Duration(*req.Params.Wait)*time.Second, MaxWait))
		defer cancel()
		for n, j := range admitted {
			if err := waitResult(wctx, r, watches[j], &out[at[j]]); err != nil {
				for _, k := range admitted[n+1:] {
					watches[k].Cancel()
				}
				return nil, err
			}
		}
	}
	return openapi.SubmitTransactionBatch200JSONResponse{Results: out}, nil
}

// waitResult waits for an admitted transaction's commit and fills in where
// it landed; at the end of ctx it leaves the result pending.
func waitResult(ctx context.Context, r *replica.Replica, w *replica.TxWatch, res *openapi.BatchResult) error {
	h, i, err := w.Wait(ctx)
	if errors.Is(err, replica.ErrNotCommitted) {
		return nil
	} else if err != nil {
		return err
	}
	receipt, err := r.ReceiptAt(h, i)
	if err != nil {
		return err
	}
	rc := receiptJSON(receipt)
	res.Status, res.Height, res.Index, res.Receipt = openapi.BatchCommitted, &h, &i, &rc
	return nil
}

// reject marks a result refused with the problem SubmitTransaction would
// have answered.
func (s *Server) reject(res *openapi.BatchResult, err error) {
	p := toProblem(s.log, err)
	res.Status, res.Problem = openapi.BatchRejected, &p
}
