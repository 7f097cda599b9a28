package services

import (
	"context"
	"encoding/hex"

	"github.com/polityledger/polity/chain/valset"
	"github.com/polityledger/polity/openapi"
)

// GetValidators implements openapi.StrictServerInterface: the set
// certifying the next block, from the node's state.
func (s *Server) GetValidators(_ context.Context, req openapi.GetValidatorsRequestObject) (openapi.GetValidatorsResponseObject, error) {
	r, err := s.chain(req.Chain)
	if err != nil {
		return nil, err
	}
	head := r.Head()
	vs, hash := r.NextValidators()
	changes, err := r.ValidatorChanges(head.Height + 1)
	if err != nil {
		return nil, err
	}
	from := uint64(1)
	if len(changes) > 0 {
		from = changes[len(changes)-1].Height + 1
	}
	out := openapi.GetValidators200JSONResponse{Hash: hash.String(), FromHeight: from, Quorum: vs.Quorum(),
		ThisNode: openapi.ValidatorSetThisNodeFollower, Validators: []openapi.Validator{}}
	if vs.CrashFaultOnly {
		out.CrashFaultOnly = &vs.CrashFaultOnly
	}
	if vs.Index(s.node.ID()) >= 0 {
		out.ThisNode = openapi.ValidatorSetThisNodeValidator
	}
	for i, v := range vs.Validators {
		val := openapi.Validator{Index: i, Id: v.ID, PubKey: hex.EncodeToString(v.PubKey)}
		if a, err := r.Ledger().Get(valset.AddrKey(v.ID)); err == nil && a != nil {
			addr := string(a)
			val.Addr = &addr
		}
		out.Validators = append(out.Validators, val)
	}
	return out, nil
}
