package services

import (
	"github.com/polityledger/polity/chain"
	"github.com/polityledger/polity/chain/crypto"
	"github.com/polityledger/polity/openapi"
)

func headerJSON(s crypto.Suite, h *chain.Header) openapi.Header {
	return openapi.Header{
		ChainId: h.ChainID, Height: h.Height, Time: h.Time, Parent: h.Parent.String(), Proposer: h.Proposer,
		TxRoot: h.TxRoot.String(), TxCount: h.TxCount, StateRoot: h.StateRoot.String(),
		ReceiptsRoot: h.ReceiptsRoot.String(), ValidatorsHash: h.ValidatorsHash.String(), Hash: h.Hash(s).String(),
	}
}

func txJSON(s crypto.Suite, tx *chain.Tx) openapi.TxBody {
	b := openapi.TxBody{
		Id: tx.ID(s).String(), ChainId: tx.ChainID, Sender: tx.Sender, Nonce: tx.Nonce,
		Module: tx.Module, Method: tx.Method, Args: tx.Args,
	}
	if b.Args == nil {
		b.Args = []byte{}
	}
	if tx.Expiry != 0 {
		b.Expiry = &tx.Expiry
	}
	return b
}

func receiptJSON(rc *chain.Receipt) openapi.Receipt {
	out := openapi.Receipt{Status: openapi.ReceiptStatus(rc.Status.String()), WorkUsed: rc.WorkUsed, Events: []openapi.Event{}}
	if rc.Error != "" {
		out.Error = &rc.Error
	}
	for _, e := range rc.Events {
		attrs := make(map[string]string, len(e.Attrs))
		for _, a := range e.Attrs {
			attrs[a.Key] = a.Value
		}
		out.Events = append(out.Events, openapi.Event{Type: e.Type, Attributes: attrs})
	}
	return out
}
