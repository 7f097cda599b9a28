package services

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/exec"
	"github.com/polityledger/polity/chain/ledger"
	"github.com/polityledger/polity/chain/mempool"
	"github.com/polityledger/polity/chain/module"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/node"
	"github.com/polityledger/polity/node/aggregation"
	"github.com/polityledger/polity/openapi"
)

// Problem codes: stable identifiers clients may switch on. Each maps to one
// HTTP status in codeStatus.
const (
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "payload_too_large"
	CodeNotFound         = "not_found"
	CodeUnknownChain     = "unknown_chain"
	CodeMalformedTx      = "malformed_transaction"
	CodeBadSignature     = "bad_signature"
	CodeWrongChain       = "wrong_chain"
	CodeReplayed         = "replayed"
	CodeDuplicate        = "duplicate"
	CodeExpired          = "expired"
	CodeNonceGap         = "nonce_gap"
	CodeQuota            = "sender_quota"
	CodeMempoolFull      = "mempool_full"
	CodeUnknownModule    = "unknown_module"
	CodeUnknownMethod    = "unknown_method"
	CodeInternal         = "internal"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeNotOrdering      = "not_ordering"
	CodePruned           = "pruned"

	// Identity (paths /v1/identity/...).
	CodeNoIdentityChain         = "no_identity_chain"
	CodeWrongOperation          = "wrong_operation"
	CodeIdentityBadArgs         = "identity_bad_arguments"
	CodeCredentialMalformed     = "credential_malformed"
	CodeCredentialUnconfirmable = "credential_unconfirmable"
	// Authentication and authorisation of write operations (auth.go).
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeAuthUnavailable = "auth_unavailable"
	// Aggregation queries (services/aggregate.go).
	CodeAggregateUnavailable    = "aggregate_unavailable"
	CodeAggregateNotParticipant = "aggregate_not_participant"
	CodeAggregateWrongPhase     = "aggregate_wrong_phase"
	CodeAggregateExpired        = "aggregate_expired"
	CodeAggregateInputExists    = "aggregate_input_exists"
	CodeAggregateBadInput       = "aggregate_bad_input"
	CodeAggregateWrongMethod    = "aggregate_wrong_method"
	CodeAggregateUnknownNode    = "aggregate_unknown_node"

	// Zero-knowledge proofs (paths /v1/zk/...).
	CodeZKBadInput            = "zk_bad_input"
	CodeZKChallengesFull      = "zk_challenges_full"
	CodeZKChallengeUnknown    = "zk_challenge_unknown"
	CodeZKReplayed            = "zk_replayed"
	CodeZKChallengeMismatch   = "zk_challenge_mismatch"
	CodeZKHolderMismatch      = "zk_holder_mismatch"
	CodeZKUnknownIssuerKey    = "zk_unknown_issuer_key"
	CodeZKIssuerKeyMismatch   = "zk_issuer_key_mismatch"
	CodeZKUntrustedIssuer     = "zk_untrusted_issuer"
	CodeZKUnknownStatusList   = "zk_unknown_status_list"
	CodeZKStatusListMismatch  = "zk_status_list_mismatch"
	CodeZKStatusListTooLarge  = "zk_status_list_too_large"
	CodeZKStatusRootMismatch  = "zk_status_root_mismatch"
	CodeZKUnknownVerifyingKey = "zk_unknown_verifying_key"
	CodeZKKeyMismatch         = "zk_key_mismatch"
	CodeZKInvalidProof        = "zk_invalid_proof"
)

// Credential problem codes are "credential_" + a chainview reason; each is
// a 422 (the credential is well-formed JSON but not acceptable).
var credentialCodes = []string{"bad_signature", "unknown_key", "untrusted_issuer", "revoked", "suspended",
	"expired", "not_yet_valid", "challenge_mismatch", "holder_mismatch", "status_unavailable", "bundle_invalid"}

func init() {
	for _, r := range credentialCodes {
		codeStatus["credential_"+r] = http.StatusUnprocessableEntity
	}
}

var codeStatus = map[string]int{
	CodeBadRequest:       http.StatusBadRequest,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeNotFound:         http.StatusNotFound,
	CodeUnknownChain:     http.StatusNotFound,
	CodeMalformedTx:      http.StatusBadRequest,
	CodeBadSignature:     http.StatusUnauthorized,
	CodeWrongChain:       http.StatusBadRequest,
	CodeReplayed:         http.StatusConflict,
	CodeDuplicate:        http.StatusConflict,
	CodeExpired:          http.StatusBadRequest,
	CodeNonceGap:         http.StatusBadRequest,
	CodeQuota:            http.StatusTooManyRequests,
	CodeMempoolFull:      http.StatusServiceUnavailable,
	CodeUnknownModule:    http.StatusBadRequest,
	CodeUnknownMethod:    http.StatusBadRequest,
	CodeInternal:         http.StatusInternalServerError,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeNotOrdering:      http.StatusServiceUnavailable,
	CodePruned:           http.StatusGone,

	CodeNoIdentityChain:         http.StatusNotFound,
	CodeWrongOperation:          http.StatusBadRequest,
	CodeIdentityBadArgs:         http.StatusBadRequest,
	CodeCredentialMalformed:     http.StatusBadRequest,
	CodeCredentialUnconfirmable: http.StatusUnprocessableEntity,
	CodeUnauthenticated:         http.StatusUnauthorized,
	CodeForbidden:               http.StatusForbidden,
	CodeAuthUnavailable:         http.StatusServiceUnavailable,
	CodeAggregateUnavailable:    http.StatusServiceUnavailable,
	CodeAggregateNotParticipant: http.StatusForbidden,
	CodeAggregateWrongPhase:     http.StatusConflict,
	CodeAggregateExpired:        http.StatusConflict,
	CodeAggregateInputExists:    http.StatusConflict,
	CodeAggregateBadInput:       http.StatusBadRequest,
	CodeAggregateWrongMethod:    http.StatusBadRequest,
	CodeAggregateUnknownNode:    http.StatusBadRequest,

	CodeZKBadInput:            http.StatusBadRequest,
	CodeZKChallengesFull:      http.StatusServiceUnavailable,
	CodeZKChallengeUnknown:    http.StatusUnprocessableEntity,
	CodeZKReplayed:            http.StatusUnprocessableEntity,
	CodeZKChallengeMismatch:   http.StatusUnprocessableEntity,
	CodeZKHolderMismatch:      http.StatusUnprocessableEntity,
	CodeZKUnknownIssuerKey:    http.StatusUnprocessableEntity,
	CodeZKIssuerKeyMismatch:   http.StatusUnprocessableEntity,
	CodeZKUntrustedIssuer:     http.StatusUnprocessableEntity,
	CodeZKUnknownStatusList:   http.StatusUnprocessableEntity,
	CodeZKStatusListMismatch:  http.StatusUnprocessableEntity,
	CodeZKStatusListTooLarge:  http.StatusUnprocessableEntity,
	CodeZKStatusRootMismatch:  http.StatusUnprocessableEntity,
	CodeZKUnknownVerifyingKey: http.StatusUnprocessableEntity,
	CodeZKKeyMismatch:         http.StatusUnprocessableEntity,
	CodeZKInvalidProof:        http.StatusUnprocessableEntity,
}

// errorCodes maps sentinel errors to problem codes, checked in order.
var errorCodes = []struct {
	err  error
	code string
}{
	{node.ErrUnknownChain, CodeUnknownChain},
	{ledger.ErrNotFound, CodeNotFound},
	{ledger.ErrPruned, CodePruned},
	{ledger.ErrBlockPruned, CodePruned},
	{chain.ErrBadSignature, CodeBadSignature},
	{chain.ErrWrongSender, CodeBadSignature},
	{chain.ErrTxMalformed, CodeMalformedTx},
	{mempool.ErrWrongChain, CodeWrongChain},
	{mempool.ErrReplayed, CodeReplayed},
	{mempool.ErrDuplicate, CodeDuplicate},
	{mempool.ErrExpired, CodeExpired},
	{mempool.ErrNonceGap, CodeNonceGap},
	{mempool.ErrSenderQuota, CodeQuota},
	{mempool.ErrFull, CodeMempoolFull},
	{module.ErrUnknownModule, CodeUnknownModule},
	{module.ErrUnknownMethod, CodeUnknownMethod},
	{exec.ErrWrongChain, CodeWrongChain},
	{replica.ErrNotOrdering, CodeNotOrdering},
	{registry.ErrNotFound, CodeNotFound},
	{registry.ErrBadArgs, CodeIdentityBadArgs},
	{aggregation.ErrUnavailable, CodeAggregateUnavailable},
	{aggregation.ErrNotFound, CodeNotFound},
	{aggregation.ErrNotParticipant, CodeAggregateNotParticipant},
	{aggregation.ErrWrongPhase, CodeAggregateWrongPhase},
	{aggregation.ErrExpired, CodeAggregateExpired},
	{aggregation.ErrInputExists, CodeAggregateInputExists},
	{aggregation.ErrBadInput, CodeAggregateBadInput},
}

// apiError is an error with a problem code and a message safe for clients.
type apiError struct {
	code   string
	detail string
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

func problemf(code, detail string) error { return &apiError{code: code, detail: detail} }

// toProblem maps any error to a problem. Errors without a known code are
// internal: logged in full, returned without detail.
func toProblem(log *slog.Logger, err error) openapi.Problem {
	code, detail := CodeInternal, "internal error"
	var ae *apiError
	if errors.As(err, &ae) {
		code, detail = ae.code, ae.detail
	} else {
		for _, ec := range errorCodes {
			if errors.Is(err, ec.err) {
				code, detail = ec.code, err.Error()
				break
			}
		}
	}
	if code == CodeInternal && log != nil {
		log.Error("request failed", "err", err)
	}
	status := codeStatus[code]
	return openapi.Problem{Type: "https://polity.dev/problems/" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: &detail}
}

func writeProblem(w http.ResponseWriter, p openapi.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
