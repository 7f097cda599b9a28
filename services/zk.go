package services

// Zero-knowledge predicate proofs through the API (paths /v1/zk/...): a
// verifier takes a single-use challenge from this node, the holder proves
// a predicate over its committed credential for it, and the node checks
// the proof against what the identity chain publishes (issuer key,
// verifying key, trust, the status list's current root). docs/privacy-zk.md.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/polityledger/polity/identity/chainview"
	"github.com/polityledger/polity/identity/did"
	"github.com/polityledger/polity/identity/registry"
	"github.com/polityledger/polity/openapi"
	"github.com/polityledger/polity/privacy/zk"
)

func zkBad(format string, args ...any) error {
	return problemf(CodeZKBadInput, fmt.Sprintf(format, args...))
}

// ZkCreateChallenge implements openapi.StrictServerInterface.
func (s *Server) ZkCreateChallenge(_ context.Context, req openapi.ZkCreateChallengeRequestObject) (openapi.ZkCreateChallengeResponseObject, error) {
	b := req.Body
	if b == nil {
		return nil, zkBad("body required")
	}
	pred, err := zk.ParsePredicate(string(b.Predicate))
	if err != nil {
		return nil, zkBad("%v", err)
	}
	now := time.Now()
	ttl := DefaultZKChallengeTTL
	if b.TtlSeconds != nil {
		ttl = time.Duration(*b.TtlSeconds) * time.Second
		if ttl <= 0 || ttl > MaxZKChallengeTTL {
			return nil, zkBad("ttl_seconds must be 1..%d", int(MaxZKChallengeTTL.Seconds()))
		}
	}
	ch := &zkChallenge{want: zk.Statement{Predicate: pred}, expires: now.Add(ttl)}
	if b.AttrIndex != nil && (*b.AttrIndex < 0 || *b.AttrIndex >= zk.NumAttributes) {
		return nil, zkBad("attr_index must be 0..%d", zk.NumAttributes-1)
	}
	out := openapi.ZkCreateChallenge200JSONResponse{Predicate: b.Predicate, ExpiresAt: ch.expires.UTC()}
	switch pred {
	case zk.AgeAtLeast:
		if b.MinAge == nil || b.AttrIndex != nil || b.Min != nil || b.Max != nil || b.SetRoot != nil {
			return nil, zkBad("age-at-least takes min_age only")
		}
		ch.minAge = *b.MinAge
		ch.day = now.UTC()
		if ch.want.Cutoff, err = zk.AgeCutoff(ch.day, ch.minAge); err != nil {
			return nil, zkBad("%v", err)
		}
		date := openapi_types.Date{Time: dateOf(ch.want.Cutoff)}
		out.MinAge, out.Cutoff, out.CutoffDate = b.MinAge, &ch.want.Cutoff, &date
	case zk.InRange:
		if b.AttrIndex == nil || b.Min == nil || b.Max == nil || b.MinAge != nil || b.SetRoot != nil {
			return nil, zkBad("in-range takes attr_index, min and max")
		}
		if *b.Min > *b.Max {
			return nil, zkBad("min %d is above max %d", *b.Min, *b.Max)
		}
		ch.want.AttrIndex, ch.want.Min, ch.want.Max = uint8(*b.AttrIndex), *b.Min, *b.Max
		out.AttrIndex, out.Min, out.Max = b.AttrIndex, b.Min, b.Max
	case zk.InSet:
		if b.AttrIndex == nil || b.SetRoot == nil || b.MinAge != nil || b.Min != nil || b.Max != nil {
			return nil, zkBad("in-set takes attr_index and set_root")
		}
		raw, err := hex.DecodeString(*b.SetRoot)
		if err != nil {
			return nil, zkBad("set_root: %v", err)
		}
		if ch.want.SetRoot, err = zk.ParseField(raw); err != nil {
			return nil, zkBad("set_root: %v", err)
		}
		ch.want.AttrIndex = uint8(*b.AttrIndex)
		out.AttrIndex, out.SetRoot = b.AttrIndex, b.SetRoot
	}
	nonce := make([]byte, zkNonceLen)
	for {
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		// ChallengeFromNonce fails only for a nonce hashing to 0 (never in practice).
		if ch.want.Challenge, err = zk.ChallengeFromNonce(nonce); err == nil {
			break
		}
	}
	if err := s.zk.put(nonce, ch, now); err != nil {
		if errors.Is(err, errChallengesFull) {
			return nil, problemf(CodeZKChallengesFull, fmt.Sprintf("%d challenges outstanding; retry when some expire", s.zk.max))
		}
		return nil, err
	}
	out.Nonce, out.Challenge = nonce, ch.want.Challenge.String()
	return out, nil
}

// dateOf turns a zk.DateValue back into its UTC midnight.
func dateOf(v uint64) time.Time {
	return time.Unix((int64(v)-zk.DateBias)*24*60*60, 0).UTC()
}

// zkRequest is a verify request decoded and checked for form: everything
// that can be refused without using the challenge up.
type zkRequest struct {
	pred                 zk.Predicate
	st                   zk.Statement
	proof                []byte
	nonce                []byte
	challenge            zk.Field
	issuer, holder, list string
	listID               string
}

func decodeZKRequest(b *openapi.ZkVerifyRequest) (*zkRequest, error) {
	if b == nil {
		return nil, zkBad("body required")
	}
	r := &zkRequest{issuer: b.Issuer, holder: b.Holder, list: b.StatusList, proof: b.Proof, nonce: b.Nonce}
	var err error
	if r.pred, err = zk.ParsePredicate(string(b.Predicate)); err != nil {
		return nil, zkBad("%v", err)
	}
	if err := r.st.UnmarshalBinary(b.Statement); err != nil {
		return nil, zkBad("statement: %v", err)
	}
	if r.st.Predicate != r.pred {
		return nil, zkBad("statement is for %s, the request names %s", r.st.Predicate, r.pred)
	}
	if len(b.Proof) != zk.ProofSize || zk.Predicate(b.Proof[1]) != r.pred {
		return nil, zkBad("proof must be a %d-byte %s proof", zk.ProofSize, r.pred)
	}
	if r.challenge, err = zk.ChallengeFromNonce(b.Nonce); err != nil {
		return nil, zkBad("nonce: %v", err)
	}
	if _, err := did.Parse(b.Issuer); err != nil {
		return nil, zkBad("issuer: %v", err)
	}
	if _, err := did.Parse(b.Holder); err != nil {
		return nil, zkBad("holder: %v", err)
	}
	listIssuer, id, err := chainview.ParseListURL(b.StatusList)
	if err != nil {
		return nil, zkBad("status_list: %v", err)
	}
	if listIssuer != b.Issuer {
		return nil, problemf(CodeZKStatusListMismatch, fmt.Sprintf("status list %s is %s's, not the issuer's", b.StatusList, listIssuer))
	}
	r.listID = id
	return r, nil
}

// ZkVerifyProof implements openapi.StrictServerInterface.
func (s *Server) ZkVerifyProof(_ context.Context, req openapi.ZkVerifyProofRequestObject) (openapi.ZkVerifyProofResponseObject, error) {
	idc, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	q, err := decodeZKRequest(req.Body)
	if err != nil {
		return nil, err
	}
	// From here on every attempt uses the challenge up.
	ch, err := s.zk.take(q.nonce, time.Now())
	switch {
	case errors.Is(err, errChallengeUnknown):
		return nil, problemf(CodeZKChallengeUnknown, "no unexpired challenge with this nonce on this node: take one from POST /v1/zk/challenges")
	case errors.Is(err, errChallengeUsed):
		return nil, problemf(CodeZKReplayed, "this challenge was already used: a proof is accepted once")
	case err != nil:
		return nil, err
	}
	st := &q.st
	if st.Challenge != ch.want.Challenge {
		return nil, problemf(CodeZKChallengeMismatch, "the statement's challenge is not the challenge of this nonce")
	}
	if st.Predicate != ch.want.Predicate || st.Cutoff != ch.want.Cutoff || st.AttrIndex != ch.want.AttrIndex ||
		st.SetRoot != ch.want.SetRoot || st.Min != ch.want.Min || st.Max != ch.want.Max {
		return nil, problemf(CodeZKChallengeMismatch, "the statement's predicate parameters are not the ones the challenge asked for")
	}
	if h, err := zk.HashDID(q.holder); err != nil {
		return nil, zkBad("holder: %v", err)
	} else if h != st.Holder {
		return nil, problemf(CodeZKHolderMismatch, "the statement is about another holder than "+q.holder)
	}

	height := idc.Ledger().Height()
	read := viewOf(idc).Reader()
	ik, err := registry.GetZKIssuerKey(read, q.issuer)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, problemf(CodeZKUnknownIssuerKey, q.issuer+" has published no zk issuer key")
	} else if err != nil {
		return nil, err
	}
	if st.Issuer != ik.Key {
		return nil, problemf(CodeZKIssuerKeyMismatch, "the statement's issuer key is not the key "+q.issuer+" publishes (rotated, or another issuer's)")
	}
	if err := checkIssuerActive(read, q.issuer); err != nil {
		return nil, err
	}
	list, err := registry.GetList(read, q.issuer, q.listID)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, problemf(CodeZKUnknownStatusList, "no status list "+q.list)
	} else if err != nil {
		return nil, err
	}
	if ok, err := registry.MayIssue(read, q.issuer, list.CredentialType); err != nil {
		return nil, err
	} else if !ok {
		return nil, problemf(CodeZKUntrustedIssuer, fmt.Sprintf("%s is not trusted to issue %s, the type of list %s", q.issuer, list.CredentialType, q.list))
	}
	if lh, err := zk.HashStatusListID(q.list); err != nil {
		return nil, zkBad("status_list: %v", err)
	} else if lh != st.StatusList {
		return nil, problemf(CodeZKStatusListMismatch, "the statement's status list hash does not name "+q.list)
	}
	root, err := zkStatusRoot(read, list)
	if err != nil {
		return nil, err
	}
	if root != st.StatusRoot {
		return nil, problemf(CodeZKStatusRootMismatch, "the proof is against another status root than the current one of "+q.list+
			": the credential may have been revoked or suspended, or the list changed since the proof was made")
	}
	vke, err := registry.GetZKVerifyingKey(read, q.pred)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, problemf(CodeZKUnknownVerifyingKey, "no verifying key published for "+q.pred.String())
	} else if err != nil {
		return nil, err
	}
	vk, err := zk.ParseVerifyingKey(vke.Key)
	if err != nil {
		return nil, fmt.Errorf("published verifying key of %s: %w", q.pred, err) // validated on publication: internal
	}
	var proof zk.Proof
	if err := proof.UnmarshalBinary(q.proof); err != nil {
		return nil, problemf(CodeZKInvalidProof, err.Error())
	}
	if err := zk.Verify(vk, st, &proof); err != nil {
		switch {
		case errors.Is(err, zk.ErrInvalidProof):
			return nil, problemf(CodeZKInvalidProof, "the proof does not verify for this statement")
		case errors.Is(err, zk.ErrKeyMismatch):
			return nil, problemf(CodeZKKeyMismatch, err.Error())
		case errors.Is(err, zk.ErrBadInput):
			return nil, zkBad("%v", err)
		}
		return nil, err
	}
	return openapi.ZkVerifyProof200JSONResponse{Verified: true, Predicate: openapi.ZkPredicate(q.pred.String()), Claim: claimOf(ch),
		Issuer: q.issuer, Holder: q.holder, StatusList: q.list, StatusRoot: root.String(),
		VerifyingKeyHash: hex.EncodeToString(vke.Hash[:]), Height: height}, nil
}

// checkIssuerActive refuses a deactivated issuer DID (key DIDs have no
// document and cannot be deactivated).
func checkIssuerActive(read registry.Reader, issuer string) error {
	d, err := did.Parse(issuer)
	if err != nil || d.Kind == did.KindKey {
		return err
	}
	v, err := registry.Resolve(read, issuer)
	if errors.Is(err, registry.ErrNotFound) {
		return problemf(CodeZKUntrustedIssuer, issuer+" is not registered")
	} else if err != nil {
		return err
	}
	if v.Deactivated {
		return problemf(CodeZKUntrustedIssuer, issuer+" is deactivated")
	}
	return nil
}

// zkStatusRoot computes the zk status root of a list's current bits.
func zkStatusRoot(read registry.Reader, l *registry.List) (zk.Field, error) {
	if l.Size > zk.StatusCapacity {
		return zk.Field{}, problemf(CodeZKStatusListTooLarge, fmt.Sprintf("status list %s has %d entries; zk proofs cover lists of at most %d", l.ID, l.Size, zk.StatusCapacity))
	}
	bits, err := registry.Bitstring(read, l.Issuer, l.ID)
	if err != nil {
		return zk.Field{}, err
	}
	return zk.StatusRoot(bits)
}

// claimOf states in words what a verified proof for ch shows.
func claimOf(ch *zkChallenge) string {
	w := ch.want
	switch w.Predicate {
	case zk.AgeAtLeast:
		return fmt.Sprintf("born on or before %s: at least %d years old on %s", dateOf(w.Cutoff).Format(time.DateOnly), ch.minAge, ch.day.Format(time.DateOnly))
	case zk.InSet:
		return fmt.Sprintf("attribute %d is a member of the set with root %s", w.AttrIndex, w.SetRoot)
	case zk.InRange:
		return fmt.Sprintf("attribute %d lies in [%d, %d]", w.AttrIndex, w.Min, w.Max)
	}
	return w.Predicate.String()
}

// ZkGetVerifyingKey implements openapi.StrictServerInterface.
func (s *Server) ZkGetVerifyingKey(_ context.Context, req openapi.ZkGetVerifyingKeyRequestObject) (openapi.ZkGetVerifyingKeyResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	pred, err := zk.ParsePredicate(string(req.Predicate))
	if err != nil {
		return nil, zkBad("%v", err)
	}
	pbs, err := viewOf(r).ProveLatest([][]byte{registry.ZKVerifyingKeyStateKey(pred.String())})
	if err != nil {
		return nil, err
	}
	if pbs[0].Value == nil {
		return nil, problemf(CodeNotFound, "no verifying key published for "+pred.String())
	}
	e, err := registry.DecodeZKVerifyingKey(pbs[0].Value)
	if err != nil {
		return nil, err
	}
	enc, err := encodeProof(pbs[0])
	if err != nil {
		return nil, err
	}
	return openapi.ZkGetVerifyingKey200JSONResponse{Predicate: req.Predicate, Key: e.Key, Hash: hex.EncodeToString(e.Hash[:]), Version: e.Version,
		PublishedBy: e.By, PublishedAt: e.Height, Height: pbs[0].Header.Height, Proof: enc}, nil
}

// ZkGetIssuerKey implements openapi.StrictServerInterface.
func (s *Server) ZkGetIssuerKey(_ context.Context, req openapi.ZkGetIssuerKeyRequestObject) (openapi.ZkGetIssuerKeyResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	if _, err := did.Parse(req.Params.Did); err != nil {
		return nil, zkBad("did: %v", err)
	}
	pbs, err := viewOf(r).ProveLatest([][]byte{registry.ZKIssuerKeyStateKey(req.Params.Did)})
	if err != nil {
		return nil, err
	}
	if pbs[0].Value == nil {
		return nil, problemf(CodeNotFound, req.Params.Did+" has published no zk issuer key")
	}
	e, err := registry.DecodeZKIssuerKey(pbs[0].Value)
	if err != nil {
		return nil, err
	}
	enc, err := encodeProof(pbs[0])
	if err != nil {
		return nil, err
	}
	return openapi.ZkGetIssuerKey200JSONResponse{Issuer: e.Issuer, Key: hex.EncodeToString(e.Key[:]), Version: e.Version, SetAt: e.Height,
		Height: pbs[0].Header.Height, Proof: enc}, nil
}

// ZkGetStatusList implements openapi.StrictServerInterface.
func (s *Server) ZkGetStatusList(_ context.Context, req openapi.ZkGetStatusListRequestObject) (openapi.ZkGetStatusListResponseObject, error) {
	r, err := s.identityChain()
	if err != nil {
		return nil, err
	}
	issuer, id, err := chainview.ParseListURL(req.Params.List)
	if err != nil {
		return nil, zkBad("list: %v", err)
	}
	listHash, err := zk.HashStatusListID(req.Params.List)
	if err != nil {
		return nil, zkBad("list: %v", err)
	}
	height := r.Ledger().Height()
	read := viewOf(r).Reader()
	l, err := registry.GetList(read, issuer, id)
	if err != nil {
		return nil, err
	}
	if l.Size > zk.StatusCapacity {
		return nil, problemf(CodeZKStatusListTooLarge, fmt.Sprintf("status list %s has %d entries; zk proofs cover lists of at most %d", id, l.Size, zk.StatusCapacity))
	}
	bits, err := registry.Bitstring(read, issuer, id)
	if err != nil {
		return nil, err
	}
	root, err := zk.StatusRoot(bits)
	if err != nil {
		return nil, err
	}
	return openapi.ZkGetStatusList200JSONResponse{List: req.Params.List, Issuer: issuer, Id: id, Purpose: openapi.ZkStatusListPurpose(l.Purpose),
		CredentialType: l.CredentialType, Size: l.Size, Bits: bits, StatusRoot: root.String(), ListHash: listHash.String(), Height: height}, nil
}

// ZkPublishVerifyingKey implements openapi.StrictServerInterface.
func (s *Server) ZkPublishVerifyingKey(ctx context.Context, req openapi.ZkPublishVerifyingKeyRequestObject) (openapi.ZkPublishVerifyingKeyResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.ZKKeysModule, registry.MethodPublishVerifyingKey, nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.ZkPublishVerifyingKey200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.ZkPublishVerifyingKey202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}

// ZkSetIssuerKey implements openapi.StrictServerInterface.
func (s *Server) ZkSetIssuerKey(ctx context.Context, req openapi.ZkSetIssuerKeyRequestObject) (openapi.ZkSetIssuerKeyResponseObject, error) {
	out, done, err := s.identityWrite(ctx, req.Body, req.Params.Wait, registry.ZKKeysModule, registry.MethodSetIssuerKey, nil)
	if err != nil {
		return nil, err
	}
	if done {
		return openapi.ZkSetIssuerKey200JSONResponse{IdentityCommittedJSONResponse: openapi.IdentityCommittedJSONResponse(*out)}, nil
	}
	return openapi.ZkSetIssuerKey202JSONResponse{IdentityPendingJSONResponse: openapi.IdentityPendingJSONResponse(*out)}, nil
}
