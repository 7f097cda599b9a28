package services

// The identity chain through the API (paths /v1/identity/...): typed writes
// that submit client-signed transactions, reads with state proofs, and
// credential confirmation and verification against chain state. The node
// holds nobody's key: every write is signed by its author, every credential
// by its issuer.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/proof"
	"github.com/polityledger/polity/chain/replica"
	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/identity/vc"
	"github.com/polityledger/polity/openapi"
)

const (
	// VerifySkew is the clock difference tolerated when verifying.
	VerifySkew = time.Minute
	// MaxIssuanceDrift bounds how far a confirmed credential's issuance time
	// may be from the node's clock: the federation confirms credentials
	// issued now, not backdated ones.
	MaxIssuanceDrift = 5 * time.Minute
)

// identityChain returns the replica of the identity chain this node hosts.
func (s *Server) identityChain() (*replica.Replica, error) {
	for _, r := range s.node.Chains() {
		if r.Genesis().Kind == chain.KindIdentity {
			return r, nil
		}
	}
	return nil, problemf(CodeNoIdentityChain, "this node hosts no identity chain")
}

func viewOf(r *replica.Replica) *chainview.View {
	return chainview.New(r.Suite(), r.Genesis().ChainID, r.Ledger(), r)
}

// identityWrite checks that raw is a transaction calling mod.method on the
// identity chain (and, through check, about what the path names), submits
// it and waits up to wait seconds.
func (s *Server) identityWrite(ctx context.Context, body *openapi.SubmitRequest, wait *int, mod, method string, check func(args []byte) error) (*openapi.IdentityWriteResult, bool, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, false, err
	}
	if body == nil || len(body.Tx) == 0 {
		return nil, false, problemf(CodeMalformedTx, "body must carry the base64 transaction in \"tx\"")
	}
	tx, err := chain.DecodeTx(body.Tx)
	if err != nil {
		return nil, false, err
	}
	chainID := r.Genesis().ChainID
	if tx.ChainID != chainID {
		return nil, false, problemf(CodeWrongChain, fmt.Sprintf("transaction is for chain %q, this node's identity chain is %q", tx.ChainID, chainID))
	}
	if tx.Module != mod || tx.Method != method {
		return nil, false, problemf(CodeWrongOperation, fmt.Sprintf("transaction calls %s.%s; this endpoint takes %s.%s", tx.Module, tx.Method, mod, method))
	}
	if check != nil {
		if err := check(tx.Args); err != nil {
			return nil, false, err
		}
	}
	id, err := r.Submit(tx)
	if err != nil {
		if committedReplay(r, id) {
			return nil, false, problemf(CodeReplayed, "transaction "+id.String()+" is already committed")
		}
		return nil, false, err
	}
	out := &openapi.IdentityWriteResult{TxId: id.String(), ChainId: chainID, Module: mod, Method: method, Status: string(openapi.Pending)}
	if wait == nil || *wait <= 0 {
		return out, false, nil
	}
	wctx, cancel := context.WithTimeout(ctx, min(time.Duration(*wait)*time.Second, MaxWait))
	defer cancel()
	if _, _, err := r.WaitTx(wctx, id); errors.Is(err, replica.ErrNotCommitted) {
		return out, false, nil
	} else if err != nil {
		return nil, false, err
	}
	ct, err := r.TxProof(id)
	if err != nil {
		return nil, false, err
	}
	enc, err := ct.Bundle.Encode()
	if err != nil {
		return nil, false, err
	}
	rc := receiptJSON(ct.Bundle.Receipt)
	out.Status, out.Height, out.Receipt, out.Proof = string(openapi.Committed), &ct.Height, &rc, &enc
	return out, true, nil
}

// argsNaming returns a check that the transaction's arguments name d in
// the field the decode function reads.
func argsNaming(d string, field func(args []byte) (string, error)) func([]byte) error {
	return func(args []byte) error {
		got, err := field(args)
		if err != nil {
			return problemf(CodeBadRequest, "arguments: "+err.Error())
		}
		if got != d {
			return problemf(CodeWrongOperation, fmt.Sprintf("transaction is about %q, the path names %q", got, d))
		}
		return nil
	}
}

func updateDocID(args []byte) (string, error) {
	var a registry.UpdateArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return "", err
	}
	var doc struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.Document, &doc); err != nil {
		return "", err
	}
	return doc.ID, nil
}

func deactivateDID(args []byte) (string, error) {
	var a registry.DeactivateArgs
	err := json.Unmarshal(args, &a)
	return a.DID, err
}

// IdentityRegisterDid implements openapi.StrictServerInterface.
func (s *Server) IdentityRegisterDid(ctx context.Context, req openapi.IdentityRegisterDidRequestObject) (openapi.IdentityRegisterDidResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.DIDModule, "register", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityRegisterDid200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityRegisterDid202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityUpdateDid implements openapi.StrictServerInterface.
func (s *Server) IdentityUpdateDid(ctx context.Context, req openapi.IdentityUpdateDidRequestObject) (openapi.IdentityUpdateDidResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.DIDModule, "update", argsNaming(req.Did, updateDocID))
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityUpdateDid200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityUpdateDid202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityDeactivateDid implements openapi.StrictServerInterface.
func (s *Server) IdentityDeactivateDid(ctx context.Context, req openapi.IdentityDeactivateDidRequestObject) (openapi.IdentityDeactivateDidResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.DIDModule, "deactivate", argsNaming(req.Did, deactivateDID))
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityDeactivateDid200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityDeactivateDid202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityGrantRole implements openapi.StrictServerInterface.
func (s *Server) IdentityGrantRole(ctx context.Context, req openapi.IdentityGrantRoleRequestObject) (openapi.IdentityGrantRoleResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.RolesModule, "grant", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityGrantRole200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityGrantRole202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityRevokeRole implements openapi.StrictServerInterface.
func (s *Server) IdentityRevokeRole(ctx context.Context, req openapi.IdentityRevokeRoleRequestObject) (openapi.IdentityRevokeRoleResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.RolesModule, "revoke", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityRevokeRole200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityRevokeRole202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentitySetTrust implements openapi.StrictServerInterface.
func (s *Server) IdentitySetTrust(ctx context.Context, req openapi.IdentitySetTrustRequestObject) (openapi.IdentitySetTrustResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.TrustModule, "set", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentitySetTrust200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentitySetTrust202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityRemoveTrust implements openapi.StrictServerInterface.
func (s *Server) IdentityRemoveTrust(ctx context.Context, req openapi.IdentityRemoveTrustRequestObject) (openapi.IdentityRemoveTrustResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.TrustModule, "remove", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityRemoveTrust200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityRemoveTrust202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentityCreateStatusList implements openapi.StrictServerInterface.
func (s *Server) IdentityCreateStatusList(ctx context.Context, req openapi.IdentityCreateStatusListRequestObject) (openapi.IdentityCreateStatusListResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.StatusModule, "create", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentityCreateStatusList200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentityCreateStatusList202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// IdentitySetStatus implements openapi.StrictServerInterface.
func (s *Server) IdentitySetStatus(ctx context.Context, req openapi.IdentitySetStatusRequestObject) (openapi.IdentitySetStatusResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.StatusModule, "set", nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.IdentitySetStatus200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.IdentitySetStatus202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

func encodeProof(b *proof.Bundle) ([]byte, error) { return b.Encode() }

// IdentityResolveDid implements openapi.StrictServerInterface.
func (s *Server) IdentityResolveDid(_ context.Context, req openapi.IdentityResolveDidRequestObject) (openapi.IdentityResolveDidResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	v := viewOf(r)
	var ver *registry.Version
	if req.Params.Height != nil {
		if h := r.Ledger().Height(); *req.Params.Height > h {
			return nil, problemf(CodeNotFound, fmt.Sprintf("height %d not committed (height %d)", *req.Params.Height, h))
		}
		ver, err = registry.ResolveAt(v.Reader(), req.Did, *req.Params.Height)
	} else {
		ver, err = registry.Resolve(v.Reader(), req.Did)
	}
	if err != nil {
		return nil, err
	}
	pbs, err := v.ProveLatest([][]byte{registry.VersionStateKey(req.Did, ver.Number)})
	if err != nil {
		return nil, err
	}
	pb := pbs[0]
	// Answer with the proven value: it may have been superseded since.
	at := pb.Header.Height
	if req.Params.Height != nil {
		at = *req.Params.Height
	}
	if ver, err = registry.DocumentAt(req.Did, at, pb.Header.Height, pb.Value); err != nil {
		return nil, err
	}
	w3c, err := ver.Doc.MarshalW3C()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(w3c, &doc); err != nil {
		return nil, err
	}
	enc, err := encodeProof(pb)
	if err != nil {
		return nil, err
	}
	out := openapi.IdentityResolveDid200JSONResponse{Did: req.Did, Version: ver.Number, Deactivated: ver.Deactivated,
		FromHeight: ver.From, FromTime: ver.FromTime, Document: doc, Value: pb.Value, Height: pb.Header.Height, Proof: enc}
	if ver.Until != 0 {
		out.UntilHeight, out.UntilTime = &ver.Until, &ver.UntilTime
	}
	return out, nil
}

// IdentityGetTrust implements openapi.StrictServerInterface.
func (s *Server) IdentityGetTrust(_ context.Context, req openapi.IdentityGetTrustRequestObject) (openapi.IdentityGetTrustResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	// MayIssue validates the issuer and type before anything is proven.
	if _, err := registry.MayIssue(viewOf(r).Reader(), req.Params.Issuer, req.Params.Type); err != nil {
		return nil, err
	}
	pbs, err := viewOf(r).ProveLatest([][]byte{registry.TrustStateKey(req.Params.Issuer, req.Params.Type)})
	if err != nil {
		return nil, err
	}
	enc, err := encodeProof(pbs[0])
	if err != nil {
		return nil, err
	}
	out := openapi.IdentityGetTrust200JSONResponse{Issuer: req.Params.Issuer, Type: req.Params.Type, Trusted: pbs[0].Value != nil, Height: pbs[0].Header.Height, Proof: enc}
	if pbs[0].Value != nil {
		g, err := registry.DecodeGrant(pbs[0].Value)
		if err != nil {
			return nil, err
		}
		out.GrantedBy, out.GrantedAt = &g.By, &g.Height
	}
	return out, nil
}

// IdentityGetStatus implements openapi.StrictServerInterface.
func (s *Server) IdentityGetStatus(_ context.Context, req openapi.IdentityGetStatusRequestObject) (openapi.IdentityGetStatusResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	issuer, id, err := chainview.ParseListURL(req.Params.List)
	if err != nil {
		return nil, err
	}
	pbs, err := viewOf(r).ProveLatest([][]byte{registry.ListStateKey(issuer, id), registry.ChunkStateKey(issuer, id, req.Params.Index)})
	if err != nil {
		return nil, err
	}
	if pbs[0].Value == nil {
		return nil, problemf(CodeNotFound, "no status list "+req.Params.List)
	}
	l, err := registry.DecodeList(pbs[0].Value)
	if err != nil {
		return nil, err
	}
	if req.Params.Index >= l.Size {
		return nil, problemf(CodeBadRequest, fmt.Sprintf("index %d past the list's %d entries", req.Params.Index, l.Size))
	}
	set, err := registry.ChunkBit(pbs[1].Value, req.Params.Index)
	if err != nil {
		return nil, err
	}
	lp, err := encodeProof(pbs[0])
	if err != nil {
		return nil, err
	}
	cp, err := encodeProof(pbs[1])
	if err != nil {
		return nil, err
	}
	return openapi.IdentityGetStatus200JSONResponse{List: req.Params.List, Issuer: l.Issuer, Id: l.ID, Purpose: openapi.IdentityStatusPurpose(l.Purpose),
		CredentialType: l.CredentialType, Size: l.Size, Index: req.Params.Index, Set: set, Height: pbs[0].Header.Height, ListProof: lp, ChunkProof: cp}, nil
}

func credentialJSON(c *vc.Credential) openapi.IdentityCredential {
	out := openapi.IdentityCredential{Types: c.Types, Issuer: c.Issuer, KeyId: c.KeyID, Subject: c.Subject, Claims: c.Claims, IssuedAt: c.IssuedAt}
	if c.ID != "" {
		out.Id = &c.ID
	}
	if !c.Expires.IsZero() {
		out.Expires = &c.Expires
	}
	if c.Status != nil {
		out.Status = &openapi.IdentityStatusEntry{Purpose: openapi.IdentityStatusEntryPurpose(c.Status.Purpose), List: c.Status.ListID, Index: c.Status.Index}
	}
	return out
}

func bundleJSON(b *vc.Bundle) openapi.IdentityBundle {
	out := openapi.IdentityBundle{Version: b.Version, Credential: b.Credential, Suite: b.Suite, Header: b.Header, Commit: b.Commit, Validators: b.Validators, State: []openapi.IdentityProvenValue{}}
	if len(b.Transitions) > 0 {
		out.Transitions = &b.Transitions
	}
	for _, e := range b.State {
		pv := openapi.IdentityProvenValue{Key: e.Key, Proof: e.Proof}
		if e.Value != nil {
			v := e.Value
			pv.Value = &v
		}
		out.State = append(out.State, pv)
	}
	return out
}

// credentialProblem turns a failed verification into a problem.
func credentialProblem(err error) error {
	reason := chainview.Reason(err)
	if reason == chainview.ReasonError {
		return err // a lookup failed: internal
	}
	return problemf("credential_"+reason, err.Error())
}

// IdentityConfirmCredential implements openapi.StrictServerInterface.
func (s *Server) IdentityConfirmCredential(_ context.Context, req openapi.IdentityConfirmCredentialRequestObject) (openapi.IdentityConfirmCredentialResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body required")
	}
	v := viewOf(r)
	now := time.Now()
	cred, err := v.Verifier(VerifySkew).VerifyCredential(req.Body.Credential, now)
	if err != nil {
		return nil, credentialProblem(err)
	}
	if d := now.Sub(cred.IssuedAt); d > MaxIssuanceDrift || d < -MaxIssuanceDrift {
		return nil, problemf(CodeCredentialUnconfirmable, fmt.Sprintf("issued at %s, more than %s from the node's clock", cred.IssuedAt.Format(time.RFC3339), MaxIssuanceDrift))
	}
	if cred.Status == nil {
		return nil, problemf(CodeCredentialUnconfirmable, "a credential issued through the federation needs a status entry (credentialStatus)")
	}
	l, err := v.List(cred.Status.ListID)
	if err != nil {
		return nil, credentialProblem(fmt.Errorf("%w: %w", vc.ErrStatus, err))
	}
	if l.Issuer != cred.Issuer {
		return nil, problemf(CodeCredentialUnconfirmable, fmt.Sprintf("status list %s is %s's, not the issuer's", cred.Status.ListID, l.Issuer))
	}
	typed := false
	for _, t := range cred.Types {
		typed = typed || t == l.CredentialType
	}
	if !typed {
		return nil, problemf(CodeCredentialUnconfirmable, fmt.Sprintf("status list %s is for %s credentials", cred.Status.ListID, l.CredentialType))
	}
	b, err := v.Bundle(req.Body.Credential)
	if err != nil {
		return nil, err
	}
	return openapi.IdentityConfirmCredential200JSONResponse{Jwt: req.Body.Credential, Credential: credentialJSON(cred), Bundle: bundleJSON(b)}, nil
}

func verdict(err error) (openapi.IdentityVerification, error) {
	reason := chainview.Reason(err)
	if reason == chainview.ReasonError {
		return openapi.IdentityVerification{}, err
	}
	detail := err.Error()
	return openapi.IdentityVerification{Valid: false, Reason: &reason, Detail: &detail}, nil
}

// IdentityVerifyCredential implements openapi.StrictServerInterface.
func (s *Server) IdentityVerifyCredential(_ context.Context, req openapi.IdentityVerifyCredentialRequestObject) (openapi.IdentityVerifyCredentialResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body required")
	}
	cred, err := viewOf(r).Verifier(VerifySkew).VerifyCredential(req.Body.Credential, time.Now())
	if err != nil {
		out, err := verdict(err)
		return openapi.IdentityVerifyCredential200JSONResponse(out), err
	}
	cs := []openapi.IdentityCredential{credentialJSON(cred)}
	return openapi.IdentityVerifyCredential200JSONResponse{Valid: true, Credentials: &cs}, nil
}

// IdentityVerifyPresentation implements openapi.StrictServerInterface.
func (s *Server) IdentityVerifyPresentation(_ context.Context, req openapi.IdentityVerifyPresentationRequestObject) (openapi.IdentityVerifyPresentationResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body required")
	}
	p, err := viewOf(r).Verifier(VerifySkew).VerifyPresentation(req.Body.Presentation, req.Body.Challenge, req.Body.Domain, time.Now())
	if err != nil {
		out, err := verdict(err)
		return openapi.IdentityVerifyPresentation200JSONResponse(out), err
	}
	cs := make([]openapi.IdentityCredential, 0, len(p.Credentials))
	for _, c := range p.Credentials {
		cs = append(cs, credentialJSON(c))
	}
	return openapi.IdentityVerifyPresentation200JSONResponse{Valid: true, Holder: &p.Holder, Credentials: &cs}, nil
}

// IdentityCredentialBundle implements openapi.StrictServerInterface.
func (s *Server) IdentityCredentialBundle(_ context.Context, req openapi.IdentityCredentialBundleRequestObject) (openapi.IdentityCredentialBundleResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, problemf(CodeBadRequest, "body required")
	}
	b, err := viewOf(r).Bundle(req.Body.Credential)
	if err != nil {
		if errors.Is(err, vc.ErrMalformed) {
			return nil, problemf(CodeCredentialMalformed, err.Error())
		}
		return nil, err
	}
	return openapi.IdentityCredentialBundle200JSONResponse(bundleJSON(b)), nil
}
